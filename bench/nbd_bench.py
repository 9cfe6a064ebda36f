#!/usr/bin/env python3
"""NBD benchmark: fio's nbd engine and nbdcopy against cgw, qemu-nbd and nbdkit's file plugin.

All three servers run in the same invocation on the same disk with the same jobs, interleaved
(run 1 of a job on each server in turn, then run 2, ...: see measure()); every figure is reported
next to its peers as a ratio. Each job runs --runs times (5 by default) and the median is
reported: the machines here are shared and noisy, and one server's 1 MiB figures swing by a quarter
from one run to the next. Server CPU is the server
process's user+system time over the job's wall time; peak RSS is the server's VmHWM.

Usage: bench/nbd_bench.py [--quick] [--runs N] [--runtime S] [--out bench/results] [--baseline DIR]

--baseline DIR adds a fourth server: the cgw of another checkout (e.g. `git worktree add DIR
HEAD~1`), interleaved with the others like a peer, and a table of this cgw against it: the way
to show that a change costs nothing beyond noise.
"""
import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbd_servers import (GiB, RANDREAD_4K, RANDWRITE_4K, READ_1M, ROOT, WRITE_1M, WRITE_FLUSH_4K, Cgw,  # noqa: E402
                         NbdkitFile, QemuNbd, baseline_cgw, commit_of, fill, fio, medians, nbdcopy,
                         proc_cpu_seconds, proc_peak_rss_mib, random_image, rotated, settle)

JOBS = [
    # name, fio args, metric
    ("randread-4k-qd32", RANDREAD_4K, "iops"),
    ("randwrite-4k-qd32", RANDWRITE_4K, "iops"),
    ("read-1m-qd8", READ_1M, "bw"),
    ("write-1m-qd8", WRITE_1M, "bw"),
    ("randwrite-4k-qd1-flush", WRITE_FLUSH_4K, "lat"),
]


def measure(servers, args):
    """Runs every job on every server, interleaved: run 1 of a job on each server in turn, then
    run 2 in a rotated order, and so on (then nbdcopy in and out the same way). On a shared host
    whose speed drifts over minutes, each server's runs are then spread over the same stretch of
    time, so the ratios compare like with like. All servers stay up (idle) while one is measured;
    each run starts after settle()."""
    uris = {}
    results = {s.name: {} for s in servers}
    try:
        for s in servers:
            uris[s.name] = s.start()
        for s in servers:
            fill(uris[s.name], args.size)
        for name, fio_args, _ in args.jobs:
            runs = {s.name: [] for s in servers}
            for run in range(args.runs):
                for s in rotated(servers, run):
                    waited = settle(servers)
                    cpu0, t0 = proc_cpu_seconds(s.pid), time.time()
                    r = fio(uris[s.name], name, fio_args, args.size, args.runtime)
                    r["server_cpu_pct"] = 100 * (proc_cpu_seconds(s.pid) - cpu0) / (time.time() - t0)
                    r["settle_s"] = waited
                    runs[s.name].append(r)
            for s in servers:
                results[s.name][name] = medians(runs[s.name])
                results[s.name][name]["runs"] = runs[s.name]
        if args.copy:
            workdir = servers[0].workdir
            copy_src = random_image(workdir / "copy.raw", args.copy_mib)
            out = workdir / "copy-out.raw"
            seconds = {s.name: {"nbdcopy-in": [], "nbdcopy-out": []} for s in servers}
            for direction in ("nbdcopy-in", "nbdcopy-out"):
                for run in range(args.runs):
                    for s in rotated(servers, run):
                        settle(servers)
                        if direction == "nbdcopy-in":
                            seconds[s.name][direction].append(nbdcopy(str(copy_src), uris[s.name]))
                        else:
                            out.unlink(missing_ok=True)
                            seconds[s.name][direction].append(nbdcopy(uris[s.name], str(out)))
            out.unlink(missing_ok=True)
            for s in servers:
                for direction, taken in seconds[s.name].items():
                    results[s.name][direction] = {"bw_mib_s": args.copy_mib / statistics.median(taken), "seconds": taken}
        for s in servers:
            results[s.name]["peak_rss_mib"] = proc_peak_rss_mib(s.pid)
    finally:
        for s in servers:
            s.stop()
            s.remove()
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 run of 5 s per job")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--runtime", type=int, default=20)
    parser.add_argument("--size", type=int, default=2 * GiB)
    parser.add_argument("--copy-mib", type=int, default=2048)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--baseline", help="a checkout of another commit whose cgw runs beside this one")
    parser.add_argument("--only", help="regex: only the jobs (and nbdcopy-in/out) whose name matches; "
                        "for experiments, not for committed results")
    args = parser.parse_args()
    pattern = re.compile(args.only) if args.only else None
    args.jobs = [job for job in JOBS if pattern is None or pattern.search(job[0])]
    args.copy = pattern is None or bool(pattern.search("nbdcopy-in nbdcopy-out"))
    if args.quick:
        args.runs, args.runtime, args.size, args.copy_mib = 1, 5, GiB // 4, 256
    for tool in ("fio", "qemu-nbd", "nbdkit", "nbdcopy"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: ./test.sh installs it")
    workdir = ROOT / "bench" / "tmp" / "nbd"
    workdir.mkdir(parents=True, exist_ok=True)
    classes = [Cgw, QemuNbd, NbdkitFile] + ([baseline_cgw(args.baseline)] if args.baseline else [])
    for cls in classes:
        if issubclass(cls, Cgw):  # build first, untimed
            subprocess.run([str(cls.root / "cgw"), "--help"], check=True, capture_output=True)

    results = measure([cls(cls.__name__, workdir, args.size) for cls in classes], args)

    lines = [f"# NBD benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {'quick' if args.quick else 'full'}: "
             f"{args.runs} runs x {args.runtime} s, {args.size >> 20} MiB export, median of runs, "
             "the servers interleaved run by run)", "",
             "| job | metric | cgw | qemu-nbd | nbdkit file | cgw/qemu-nbd | cgw/nbdkit |", "|---|---|---|---|---|---|---|"]
    for name, _, metric in args.jobs:
        c, q, n = (results[s][name] for s in ("Cgw", "QemuNbd", "NbdkitFile"))
        if metric == "iops":
            rows = [("IOPS", "iops", True), ("p50 µs", "p50_us", False), ("p99 µs", "p99_us", False)]
        elif metric == "bw":
            rows = [("MiB/s", "bw_mib_s", True), ("p99 µs", "p99_us", False)]
        else:
            rows = [("write+flush p50 µs", "p50_us", False), ("write+flush p99 µs", "p99_us", False), ("IOPS", "iops", True)]
        rows.append(("server CPU %", "server_cpu_pct", False))
        for label, key, _ in rows:
            lines.append(f"| {name} | {label} | {c[key]:.0f} | {q[key]:.0f} | {n[key]:.0f} | "
                         f"{c[key] / q[key]:.2f} | {c[key] / n[key]:.2f} |")
    for name in ("nbdcopy-in", "nbdcopy-out") if args.copy else ():
        c, q, n = (results[s][name]["bw_mib_s"] for s in ("Cgw", "QemuNbd", "NbdkitFile"))
        lines.append(f"| {name} {args.copy_mib} MiB | MiB/s | {c:.0f} | {q:.0f} | {n:.0f} | {c / q:.2f} | {c / n:.2f} |")
    c, q, n = (results[s]["peak_rss_mib"] for s in ("Cgw", "QemuNbd", "NbdkitFile"))
    lines.append(f"| all | peak RSS MiB | {c:.0f} | {q:.0f} | {n:.0f} | {c / q:.2f} | {c / n:.2f} |")
    if args.baseline:
        lines += ["", f"cgw against the baseline ({args.baseline}, {commit_of(args.baseline)}), "
                  f"this checkout at {commit_of(ROOT)}:", "",
                  "| job | metric | cgw | baseline | cgw/baseline |", "|---|---|---|---|---|"]
        for name, _, metric in args.jobs:
            c, b = results["Cgw"][name], results["CgwBaseline"][name]
            key, label = {"iops": ("iops", "IOPS"), "bw": ("bw_mib_s", "MiB/s")}.get(metric, ("p50_us", "write+flush p50 µs"))
            for k, l in ((key, label), ("server_cpu_pct", "server CPU %")):
                lines.append(f"| {name} | {l} | {c[k]:.0f} | {b[k]:.0f} | {c[k] / b[k]:.2f} |")
        for name in ("nbdcopy-in", "nbdcopy-out") if args.copy else ():
            c, b = results["Cgw"][name]["bw_mib_s"], results["CgwBaseline"][name]["bw_mib_s"]
            lines.append(f"| {name} {args.copy_mib} MiB | MiB/s | {c:.0f} | {b:.0f} | {c / b:.2f} |")
    report = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M")
    kind = "quick" if args.quick else "full"
    (out / f"nbd-{kind}-{stamp}.md").write_text(report)
    (out / f"nbd-{kind}-{stamp}.json").write_text(json.dumps(results, indent=1))
    print(report)


if __name__ == "__main__":
    main()

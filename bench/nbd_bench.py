#!/usr/bin/env python3
"""NBD benchmark: fio's nbd engine and nbdcopy against cgw, qemu-nbd and nbdkit's file plugin (raw
files on the same disk); every figure is reported next to its peers as a ratio. Two modes
(--mode, both by default):

- back to back, the headline (nbd_back_to_back.py): each server alone on a fresh export, its
  phases in a row with no pause, as a new user's disk meets them; --rounds rounds (3) in rotated
  order, medians; then the extras of issue 26 (nbdcopy into a fresh export, a minute of writes
  into a fresh 16 GiB export, space after a full overwrite, restore vs qemu-img convert).
- interleaved (measure() here): all servers up at once, run 1 of a job on each server in turn,
  then run 2, ..., each run after a sync and once no server is busy; --runs runs (5), medians. It
  gives cgw's background work (defragmenter, cleaner) idle time between its runs: it shows a
  settled gateway, not one that is still digesting what it was just sent.

Server CPU is the server process's user+system time, peak RSS its VmHWM.

Usage: bench/nbd_bench.py [--quick] [--mode M] [--rounds N] [--runs N] [--runtime S] [--size BYTES]
                          [--copy-mib N] [--only REGEX] [--baseline DIR] [--out bench/results]

--baseline DIR adds a fourth server: the cgw of another checkout (e.g. `git worktree add DIR
HEAD~1`), run like a peer in both modes, and tables of this cgw against it: the way to show that a
change costs nothing beyond noise.
"""
import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import host_memory  # noqa: E402
import nbd_back_to_back as b2b  # noqa: E402
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


def measure(servers, args, image):
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
                    r = fio(uris[s.name], name, fio_args, args.size, args.job_runtime)
                    r["server_cpu_pct"] = 100 * (proc_cpu_seconds(s.pid) - cpu0) / (time.time() - t0)
                    r["settle_s"] = waited
                    runs[s.name].append(r)
            for s in servers:
                results[s.name][name] = medians(runs[s.name])
                results[s.name][name]["runs"] = runs[s.name]
        if args.copy:
            out = servers[0].workdir / "copy-out.raw"
            seconds = {s.name: {"nbdcopy-in": [], "nbdcopy-out": []} for s in servers}
            for direction in ("nbdcopy-in", "nbdcopy-out"):
                for run in range(args.runs):
                    for s in rotated(servers, run):
                        settle(servers)
                        if direction == "nbdcopy-in":
                            seconds[s.name][direction].append(nbdcopy(str(image), uris[s.name]))
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


def interleaved_markdown(results, args, names):
    lines = ["## Interleaved", "",
             f"All servers up at once, each on its own {args.size >> 20} MiB export written whole first; each job "
             f"{args.runs} runs x {args.job_runtime} s (2 s ramp) per server, the servers interleaved run by run in "
             "rotated order, every run after a sync and once no server is busy; one export for all jobs, in this "
             "order; medians of runs.", "",
             "| job | metric | cgw | qemu-nbd | nbdkit file | cgw/qemu-nbd | cgw/nbdkit |", "|---|---|---|---|---|---|---|"]
    for name, _, metric in args.jobs:
        c, q, n = (results[s][name] for s in ("Cgw", "QemuNbd", "NbdkitFile"))
        if metric == "iops":
            rows = [("IOPS", "iops"), ("p50 µs", "p50_us"), ("p99 µs", "p99_us")]
        elif metric == "bw":
            rows = [("MiB/s", "bw_mib_s"), ("p99 µs", "p99_us")]
        else:
            rows = [("write+flush p50 µs", "p50_us"), ("write+flush p99 µs", "p99_us"), ("IOPS", "iops")]
        rows.append(("server CPU %", "server_cpu_pct"))
        for label, key in rows:
            lines.append(f"| {name} | {label} | {c[key]:.0f} | {q[key]:.0f} | {n[key]:.0f} | "
                         f"{c[key] / q[key]:.2f} | {c[key] / n[key]:.2f} |")
    for name in ("nbdcopy-in", "nbdcopy-out") if args.copy else ():
        c, q, n = (results[s][name]["bw_mib_s"] for s in ("Cgw", "QemuNbd", "NbdkitFile"))
        lines.append(f"| {name} {args.copy_mib} MiB | MiB/s | {c:.0f} | {q:.0f} | {n:.0f} | {c / q:.2f} | {c / n:.2f} |")
    c, q, n = (results[s]["peak_rss_mib"] for s in ("Cgw", "QemuNbd", "NbdkitFile"))
    lines += [f"| all | peak RSS MiB | {c:.0f} | {q:.0f} | {n:.0f} | {c / q:.2f} | {c / n:.2f} |", ""]
    if "CgwBaseline" in names:
        lines += ["Interleaved, cgw against the baseline:", "",
                  "| job | metric | cgw | baseline | cgw/baseline |", "|---|---|---|---|---|"]
        for name, _, metric in args.jobs:
            c, b = results["Cgw"][name], results["CgwBaseline"][name]
            key, label = {"iops": ("iops", "IOPS"), "bw": ("bw_mib_s", "MiB/s")}.get(metric, ("p50_us", "write+flush p50 µs"))
            for k, l in ((key, label), ("server_cpu_pct", "server CPU %")):
                lines.append(f"| {name} | {l} | {c[k]:.0f} | {b[k]:.0f} | {c[k] / b[k]:.2f} |")
        for name in ("nbdcopy-in", "nbdcopy-out") if args.copy else ():
            c, b = results["Cgw"][name]["bw_mib_s"], results["CgwBaseline"][name]["bw_mib_s"]
            lines.append(f"| {name} {args.copy_mib} MiB | MiB/s | {c:.0f} | {b:.0f} | {c / b:.2f} |")
        lines.append("")
    return lines


def log_findings(workdir, names):
    """Per server, the lines of its log that report an error or a warning."""
    counts = {}
    for name in names:
        log = workdir / f"{name}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        counts[name] = sum(1 for line in text.splitlines() if re.search(r"\b(ERROR|WARN|error|warning)\b", line))
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 round of 3 s phases, 1 run of 5 s per job, 256 MiB export and file")
    parser.add_argument("--mode", choices=("back-to-back", "interleaved", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3, help="back to back: rounds of every server's phases")
    parser.add_argument("--runs", type=int, default=5, help="interleaved: runs of each job on each server")
    parser.add_argument("--runtime", type=int,
                        help="seconds per back-to-back phase (default 10) and per interleaved job (default 20)")
    parser.add_argument("--warm-up", type=int,
                        help="back to back: seconds of each phase run untimed on a scratch export before a server's "
                        "measured phases and extras (default 3, quick 1; 0: servers started cold)")
    parser.add_argument("--host-memory", choices=("keep", "leave"), default="keep",
                        help="keep (default): free page reporting off for the run, free memory touched once "
                        "(bench/host_memory.py); leave: as the machine is")
    parser.add_argument("--size", type=int, default=2 * GiB, help="bytes of the export (default 2 GiB)")
    parser.add_argument("--copy-mib", type=int, default=2048, help="size of the file for nbdcopy and the restore")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--baseline", help="a checkout of another commit whose cgw runs beside this one")
    parser.add_argument("--only", help="regex: only the phases, extras (" + ", ".join(b2b.EXTRAS) + ") and jobs "
                        "(and nbdcopy-in/out) whose name matches; for experiments, not for committed results")
    args = parser.parse_args()
    pattern = re.compile(args.only) if args.only else None

    def wanted(name):
        return pattern is None or bool(pattern.search(name))

    args.jobs = [job for job in JOBS if wanted(job[0])]
    args.copy = wanted("nbdcopy-in") or wanted("nbdcopy-out")
    args.phases = [phase for phase in b2b.PHASES if wanted(phase[0])]
    args.extras = [extra for extra in b2b.EXTRAS if wanted(extra)]
    args.sustained = b2b.SUSTAINED
    if args.quick:
        args.rounds, args.runs, args.size, args.copy_mib = 1, 1, GiB // 4, 256
        args.sustained = b2b.SUSTAINED_QUICK
    args.phase_runtime = args.runtime or (3 if args.quick else 10)
    if args.warm_up is None:
        args.warm_up = 1 if args.quick else 3
    args.job_runtime = args.runtime or (5 if args.quick else 20)
    back_to_back, interleaved = args.mode in ("back-to-back", "both"), args.mode in ("interleaved", "both")
    for tool in ("fio", "qemu-nbd", "nbdkit", "nbdcopy", "qemu-img"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: ./test.sh installs it")
    workdir = ROOT / "bench" / "tmp" / "nbd"
    workdir.mkdir(parents=True, exist_ok=True)
    for log in workdir.glob("*.log"):
        log.unlink()
    classes = [Cgw, QemuNbd, NbdkitFile] + ([baseline_cgw(args.baseline)] if args.baseline else [])
    names = [cls.__name__ for cls in classes]
    for cls in classes:
        if issubclass(cls, Cgw):  # build first, untimed
            subprocess.run([str(cls.root / "cgw"), "--help"], check=True, capture_output=True)
    image = None
    if (interleaved and args.copy) or (back_to_back and {"nbdcopy-in", "restore"} & set(args.extras)):
        image = random_image(workdir / "copy.raw", args.copy_mib)

    memory = host_memory.kept() if args.host_memory == "keep" else contextlib.nullcontext(
        {"page_reporting": "left as it is (--host-memory leave)"})
    with memory as state:
        run(args, classes, names, workdir, image, back_to_back, interleaved, state)


def run(args, classes, names, workdir, image, back_to_back, interleaved, memory):
    load_start, started = os.getloadavg()[0], time.time()
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit_of(ROOT), "kind": "quick" if args.quick else "full",
              "mode": args.mode, "nproc": os.cpu_count(), "size_bytes": args.size, "copy_mib": args.copy_mib,
              "rounds": args.rounds, "phase_runtime_s": args.phase_runtime, "runs": args.runs,
              "job_runtime_s": args.job_runtime, "sustained": args.sustained, "only": args.only,
              "baseline": args.baseline and f"{args.baseline} at {commit_of(args.baseline)}",
              "warm_up_s": args.warm_up, "host_memory": memory}
    if back_to_back:
        report["back_to_back"] = b2b.back_to_back(classes, workdir, args) if args.phases else {}
        report["extras"] = b2b.extras(classes, workdir, args, image)
    if interleaved:
        report["interleaved"] = measure([cls(cls.__name__, workdir, args.size) for cls in classes], args, image)
    report["minutes"] = (time.time() - started) / 60
    report["load_avg_1m"] = [load_start, os.getloadavg()[0]]
    report["log_findings"] = log_findings(workdir, names)

    lines = [f"# NBD benchmark ({report['date']}, {report['kind']}, commit {report['commit']}, {report['nproc']} cores)",
             "", f"`python3 bench/nbd_bench.py{''.join(' ' + a for a in sys.argv[1:])}`: took {report['minutes']:.0f} min; "
             f"load average (1 min) {load_start:.2f} at the start, {report['load_avg_1m'][1]:.2f} at the end. Servers on the same disk; raw files for the peers.",
             "", host_memory.describe(memory), ""]
    if back_to_back:
        lines += b2b.markdown(report["back_to_back"], report["extras"], args, names)
    if interleaved:
        lines += interleaved_markdown(report["interleaved"], args, names)
    if args.baseline:
        lines += [f"Baseline: {report['baseline']}; this checkout at {report['commit']}.", ""]
    lines += ["Server log lines with an error or a warning (bench/tmp/nbd/NAME.log): " +
              ", ".join(f"{name} {count}" for name, count in report["log_findings"].items()) + "."]
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M")
    (out / f"nbd-{report['kind']}-{stamp}.md").write_text(text)
    (out / f"nbd-{report['kind']}-{stamp}.json").write_text(json.dumps(report, indent=1))
    print(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Group barrier benchmark: freeze time under load, snapshot latency, cost vs data, I/O overhead.

Runs `cgw serve` (the shaded jar through ./cgw) on a fresh data directory and measures:

1. freeze: groups of 2, 8, 32 and 128 volumes, fio (nbd engine, 4 KiB randwrite, QD8) on every
   volume, a group snapshot every 100 ms through REST. Reports freezeMicros p50/p99/max (how long
   the barrier held I/O replies, max over the group's volumes) and the REST latency of the
   snapshot call, against the issue's targets (p99 < 1 ms for 2-8 volumes, < 5 ms for 128) and
   against the ~50 ms freeze of the host-side consistency-group approach this field started from.
2. overhead: the fio load on a group of 8 with one snapshot per second vs none, alternating runs,
   medians; the ratio and the overhead in %.
3. size: REST latency and freeze of snapshots of an idle volume with 1 GiB written vs 16 GiB
   written (--quick: 4 GiB); the ratio must stay near 1 (a snapshot is O(1) in volume size).

Usage: bench/barrier_bench.py [--quick] [--runtime S] [--runs N] [--out bench/results]
Writes bench/results/barrier-DATE.{json,md}.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbd_servers import Gateway, proc_peak_rss_mib  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOST_SIDE_FREEZE_MS = 50.0  # what the host-side consistency-group approach froze VMs for


def pct(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def group_of(gw, n, size, prefix):
    names = [f"{prefix}{i}" for i in range(n)]
    for name in names:
        gw.must("POST", "/v1/volumes", {"name": name, "size": size})
    gw.must("POST", "/v1/groups", {"name": prefix + "g", "volumes": names})
    return prefix + "g", names


def run_fio(port, names, runtime, size, workdir):
    """fio with one 4 KiB randwrite QD8 job per volume; returns total IOPS."""
    jobfile = workdir / "jobs.fio"
    lines = ["[global]", "ioengine=nbd", "rw=randwrite", "bs=4k", "iodepth=8", "time_based",
             f"runtime={runtime}", "ramp_time=1", f"size={size}", "norandommap", "randrepeat=0", "thread"]
    for name in names:
        lines += [f"[{name}]", f"uri=nbd://127.0.0.1:{port}/{name}"]
    jobfile.write_text("\n".join(lines) + "\n")
    out = subprocess.run(["fio", "--output-format=json", str(jobfile)], check=True, capture_output=True,
                         text=True).stdout
    jobs = json.loads(out[out.index("{"):])["jobs"]
    return sum(job["write"]["iops"] for job in jobs)


def snapshots_during(gw, group, interval, stop, results):
    """Takes a snapshot of `group` every `interval` seconds until `stop` is set."""
    while not stop.is_set():
        start = time.perf_counter()
        status, body, elapsed = gw.api("POST", f"/v1/groups/{group}/snapshots", {"timeoutMs": 10000})
        results.append({"status": status, "rest_ms": elapsed * 1000,
                        "freeze_us": body.get("freezeMicros") if status == 201 else None})
        stop.wait(max(0.0, interval - (time.perf_counter() - start)))


def with_snapshots(gw, group, names, interval, runtime, size, workdir):
    stop = threading.Event()
    results = []
    thread = None
    if interval:
        thread = threading.Thread(target=snapshots_during, args=(gw, group, interval, stop, results))
        time.sleep(0)
        thread.start()
    try:
        iops = run_fio(gw.port, names, runtime, size, workdir)
    finally:
        stop.set()
        if thread:
            thread.join()
    return iops, results


def summarize(results):
    ok = [r for r in results if r["status"] == 201]
    freeze = [r["freeze_us"] for r in ok]
    rest = [r["rest_ms"] for r in ok]
    return {"snapshots": len(ok), "failed": len(results) - len(ok),
            "freeze_p50_us": pct(freeze, 50), "freeze_p99_us": pct(freeze, 99), "freeze_max_us": max(freeze or [0]),
            "rest_p50_ms": pct(rest, 50), "rest_p99_ms": pct(rest, 99)}


def bench_freeze(workdir, sizes, runtime):
    rows = []
    for n in sizes:
        gw = Gateway(workdir / "cgw-data")
        try:
            group, names = group_of(gw, n, "256MiB", f"f{n}v")
            iops, results = with_snapshots(gw, group, names, 0.1, runtime, "256m", workdir)
            row = {"volumes": n, "fio_iops": iops, **summarize(results), "peak_rss_mib": proc_peak_rss_mib(gw.proc.pid)}
            row["target_us"] = 1000 if n <= 8 else 5000
            row["met"] = row["freeze_p99_us"] < row["target_us"] and row["failed"] == 0
            rows.append(row)
            print(f"freeze {n:4d} volumes: {row['snapshots']} snapshots, freeze p50 {row['freeze_p50_us']} us"
                  f" p99 {row['freeze_p99_us']} us max {row['freeze_max_us']} us (target p99 < {row['target_us']} us:"
                  f" {'met' if row['met'] else 'MISSED'}); REST p50 {row['rest_p50_ms']:.1f} ms; fio {iops:.0f} IOPS",
                  flush=True)
        finally:
            gw.stop()
    return rows


def bench_overhead(workdir, runs, runtime):
    gw = Gateway(workdir / "cgw-data")
    try:
        group, names = group_of(gw, 8, "256MiB", "o")
        # written once whole first, so that every run meets the same store (compaction debt grows
        # while a volume fills); pairs alternate their order (ABBA) so any drift cancels
        for name in names:
            fill(gw.port, name, 0, 0.25)
        without, with_ = [], []
        counts = []
        for i in range(runs):
            first_without = i % 2 == 0
            for snapshots in ((False, True) if first_without else (True, False)):
                iops, results = with_snapshots(gw, group, names, 1.0 if snapshots else 0, runtime, "256m", workdir)
                (with_ if snapshots else without).append(iops)
                if snapshots:
                    counts.append(len(results))
        base, snap = statistics.median(without), statistics.median(with_)
        ratio = statistics.median([w / b for w, b in zip(with_, without)])
        row = {"volumes": 8, "runs": runs, "iops_without": without, "iops_with": with_, "snapshots_per_run": counts,
               "median_without": base, "median_with": snap, "ratio": ratio,
               "overhead_pct": (1 - ratio) * 100}
        row["met"] = row["overhead_pct"] < 5
        print(f"overhead: 8 volumes, median {base:.0f} IOPS without snapshots, {snap:.0f} with one per second; median of paired ratios "
              f"{row['ratio']:.3f}, overhead {row['overhead_pct']:.1f}% (target < 5%: {'met' if row['met'] else 'MISSED'})",
              flush=True)
        return row
    finally:
        gw.stop()


def fill(port, name, offset_gib, gib):
    subprocess.run(["fio", "--name=fill", "--ioengine=nbd", f"--uri=nbd://127.0.0.1:{port}/{name}", "--rw=write",
                    "--bs=1m", "--iodepth=8", f"--offset={int(offset_gib * 1024)}m", f"--size={int(gib * 1024)}m",
                    "--refill_buffers",
                    "--output-format=terse"], check=True, capture_output=True)


def bench_size(workdir, small_gib, large_gib, count):
    gw = Gateway(workdir / "cgw-data")
    try:
        gw.must("POST", "/v1/volumes", {"name": "big", "size": f"{large_gib}GiB"})
        gw.must("POST", "/v1/groups", {"name": "bg", "volumes": ["big"]})
        rows = {}
        written = 0
        for gib in (small_gib, large_gib):
            fill(gw.port, "big", written, gib - written)
            written = gib
            results = []
            for _ in range(count):
                status, body, elapsed = gw.api("POST", "/v1/groups/bg/snapshots", {})
                results.append({"status": status, "rest_ms": elapsed * 1000,
                                "freeze_us": body.get("freezeMicros") if status == 201 else None})
                time.sleep(0.02)
            rows[gib] = summarize(results)
            print(f"size: {gib} GiB written: REST p50 {rows[gib]['rest_p50_ms']:.2f} ms, freeze p50 "
                  f"{rows[gib]['freeze_p50_us']} us", flush=True)
        ratio = rows[large_gib]["rest_p50_ms"] / rows[small_gib]["rest_p50_ms"]
        print(f"size: snapshot latency {large_gib} GiB / {small_gib} GiB = {ratio:.2f} (must not grow with size)")
        return {"small_gib": small_gib, "large_gib": large_gib, "small": rows[small_gib], "large": rows[large_gib],
                "rest_ratio": ratio}
    finally:
        gw.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short runs, 4 GiB instead of 16 GiB")
    parser.add_argument("--runtime", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--only", choices=["freeze", "overhead", "size"])
    parser.add_argument("--sizes", default="2,8,32,128", help="group sizes of the freeze benchmark")
    args = parser.parse_args()
    runtime = 8 if args.quick else args.runtime
    workdir = Path(tempfile.mkdtemp(prefix="cgw-barrier-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp")))
    report = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick, "runtime_s": runtime,
              "machine": {"cpus": os.cpu_count()}}
    try:
        if args.only in (None, "freeze"):
            report["freeze"] = bench_freeze(workdir, [int(n) for n in args.sizes.split(",")], runtime)
        if args.only in (None, "overhead"):
            report["overhead"] = bench_overhead(workdir, args.runs, runtime)
        if args.only in (None, "size"):
            report["size"] = bench_size(workdir, 1, 4 if args.quick else 16, 30)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / ("barrier-" + ("quick-" if args.quick else "") + time.strftime("%Y%m%d-%H%M"))
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(report))
    print(f"wrote {stem}.md and .json")


def markdown(report):
    lines = [f"# Group barrier benchmark ({report['date']})", "",
             f"`bench/barrier_bench.py{' --quick' if report['quick'] else ''}`: cgw serve on this machine "
             f"({report['machine']['cpus']} CPUs), fio nbd engine, {report['runtime_s']} s per run. Freeze = how long "
             "the barrier held I/O replies (`freezeMicros`, max over the group's volumes). Peer: the ~50 ms VM freeze "
             "of the host-side consistency-group approach.", ""]
    if "freeze" in report:
        lines += ["## Freeze under load (4 KiB randwrite QD8 on every volume, a snapshot every 100 ms)", "",
                  "| volumes | snapshots | freeze p50 | p99 | max | target p99 | vs 50 ms (p99) | REST p50 | REST p99 | fio IOPS | peak RSS |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in report["freeze"]:
            lines.append(f"| {r['volumes']} | {r['snapshots']} (failed {r['failed']}) | {r['freeze_p50_us']} us | "
                         f"{r['freeze_p99_us']} us | {r['freeze_max_us']} us | < {r['target_us']} us: "
                         f"{'met' if r['met'] else '**MISSED**'} | {r['freeze_p99_us'] / 1000 / HOST_SIDE_FREEZE_MS:.4f}x | "
                         f"{r['rest_p50_ms']:.1f} ms | {r['rest_p99_ms']:.1f} ms | {r['fio_iops']:.0f} | "
                         f"{r['peak_rss_mib']:.0f} MiB |")
        lines.append("")
    if "overhead" in report:
        o = report["overhead"]
        lines += ["## Throughput with one snapshot per second vs none (8 volumes)", "",
                  f"Volumes written whole first; {o['runs']} pairs of runs in ABBA order; medians: {o['median_without']:.0f} IOPS without, "
                  f"{o['median_with']:.0f} with; median of the paired ratios {o['ratio']:.3f}, overhead {o['overhead_pct']:.1f}% "
                  f"(target < 5%: {'met' if o['met'] else '**MISSED**'}). Per run: without {[round(x) for x in o['iops_without']]}, "
                  f"with {[round(x) for x in o['iops_with']]}.", ""]
    if "size" in report:
        s = report["size"]
        lines += ["## Snapshot cost vs data written (idle volume)", "",
                  "| written | REST p50 | REST p99 | freeze p50 |", "|---|---|---|---|",
                  f"| {s['small_gib']} GiB | {s['small']['rest_p50_ms']:.2f} ms | {s['small']['rest_p99_ms']:.2f} ms | {s['small']['freeze_p50_us']} us |",
                  f"| {s['large_gib']} GiB | {s['large']['rest_p50_ms']:.2f} ms | {s['large']['rest_p99_ms']:.2f} ms | {s['large']['freeze_p50_us']} us |",
                  "", f"Ratio of REST p50, {s['large_gib']} GiB / {s['small_gib']} GiB: {s['rest_ratio']:.2f}.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""4 KiB write + flush at QD1 (a database's commit) on a written 2 GiB export: cgw against a
baseline checkout of cgw and qemu-nbd serving a raw file, each alone on a fresh export filled
once with 1 MiB writes, then `--runs` fio runs of `--runtime` s (write p50 and flush p50 apart,
IOPS); rounds rotate the servers' order. Medians over rounds and runs, ratios to qemu-nbd.
Usage: bench/qd1_flush.py --baseline CHECKOUT [--rounds 3] [--runs 3] [--runtime 8] [--out bench/results]
Writes bench/results/nbd-qd1-DATE.md.
"""
import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbd_servers import GiB, WRITE_1M, WRITE_FLUSH_4K, Cgw, QemuNbd, baseline_cgw, commit_of, fio, rotated, serving  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SIZE = 2 * GiB


def qd1(uri, runtime):
    cmd = ["fio", "--name=qd1", "--ioengine=nbd", f"--uri={uri}", f"--size={SIZE}", f"--runtime={runtime}",
           "--time_based", "--output-format=json", "--randrepeat=0", "--norandommap"] + WRITE_FLUSH_4K
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    job = json.loads(out[out.index("{"):])["jobs"][0]
    write = job["write"]["clat_ns"]["percentile"]
    flush = job["sync"]["lat_ns"]["percentile"]
    return {"iops": job["write"]["iops"], "write_p50_us": write["50.000000"] / 1000,
            "flush_p50_us": flush["50.000000"] / 1000, "flush_p99_us": flush["99.000000"] / 1000}


def one_server(cls, workdir, runs, runtime):
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    with serving(cls, workdir, SIZE) as (server, uri):
        fio(uri, "fill", WRITE_1M, SIZE, 60, ramp_s=0, time_based=False)
        return [qd1(uri, runtime) for _ in range(runs)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", required=True, help="a checkout of cgw to compare with (built)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--runtime", type=int, default=8)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    servers = {"cgw": Cgw, "baseline": baseline_cgw(args.baseline), "qemu-nbd": QemuNbd}
    results = {name: [] for name in servers}
    workdir = ROOT / "bench" / "tmp" / "qd1"
    try:
        for round_ in range(args.rounds):
            for name in rotated(list(servers), round_):
                runs = one_server(servers[name], workdir, args.runs, args.runtime)
                results[name] += runs
                print(f"round {round_ + 1} {name}: " + "; ".join(
                    f"{r['iops']:.0f} IOPS, write {r['write_p50_us']:.0f} us, flush {r['flush_p50_us']:.0f} us"
                    for r in runs), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    med = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for name, runs in results.items()}
    lines = [f"# 4 KiB write + flush at QD1, {time.strftime('%Y-%m-%d %H:%M')} ({commit_of(ROOT)}; baseline"
             f" {commit_of(Path(args.baseline))})", "",
             f"A written {SIZE // GiB} GiB export per server, each alone; {args.rounds} rounds in rotated order,"
             f" {args.runs} fio runs of {args.runtime} s each (`bench/qd1_flush.py`). Medians over all runs.", "",
             "| server | IOPS | write p50 | flush p50 | flush p99 | IOPS / qemu-nbd | runs (IOPS) |",
             "|---|---|---|---|---|---|---|"]
    for name, m in med.items():
        each = ", ".join(f"{r['iops']:.0f}" for r in results[name])
        lines.append(f"| {name} | {m['iops']:.0f} | {m['write_p50_us']:.0f} us | {m['flush_p50_us']:.0f} us |"
                     f" {m['flush_p99_us']:.0f} us | {m['iops'] / med['qemu-nbd']['iops']:.2f} |"
                     f" {each} |")
    text = "\n".join(lines) + "\n"
    out = Path(args.out) / f"nbd-qd1-{time.strftime('%Y%m%d-%H%M')}.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

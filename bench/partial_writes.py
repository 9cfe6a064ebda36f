"""4 KiB random writes into a written volume: each one a write into part of a region.

Each round starts `cgw serve` of this checkout and of a baseline checkout in turn (fresh data
directories), creates a 2 GiB volume, fills it with 1 MiB writes, runs 8 s of 4 KiB random
writes QD32 (untimed: the JIT and the caches settle), then measures 10 s more (fio nbd engine).
Per run: IOPS and the gateway's CPU seconds over the measured 10 s. Medians over rounds, and
this checkout's as a ratio to the baseline's.

    python3 bench/partial_writes.py --baseline /work/other-checkout [--rounds 3]
"""
import argparse
import shutil
from pathlib import Path

from nbd_servers import (GiB, RANDWRITE_4K, ROOT, WRITE_1M, Gateway, against_baseline, fio, medians,
                         proc_cpu_seconds)

SIZE = 2 * GiB


def one_run(root, workdir, seconds):
    gateway = Gateway(workdir / "data", root=root)
    try:
        gateway.must("POST", "/v1/volumes", {"name": "disk", "size": SIZE})
        uri = f"nbd://127.0.0.1:{gateway.port}/disk"
        fio(uri, "fill", WRITE_1M, SIZE, 600, ramp_s=0, time_based=False)
        fio(uri, "settle", RANDWRITE_4K, SIZE, 8, ramp_s=0)
        cpu_before = proc_cpu_seconds(gateway.proc.pid)
        result = fio(uri, "measured", RANDWRITE_4K, SIZE, seconds, ramp_s=0)
        return {"iops": result["iops"], "cpu_s": proc_cpu_seconds(gateway.proc.pid) - cpu_before}
    finally:
        gateway.stop()
        shutil.rmtree(workdir / "data", ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True, help="another checkout of cgw, its jar built")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "bench" / "tmp" / "partial-writes"))
    args = parser.parse_args()
    workdir = Path(args.out)
    workdir.mkdir(parents=True, exist_ok=True)
    runs = against_baseline(args.baseline, args.rounds, lambda root: one_run(root, workdir, args.seconds),
                            lambda run: f"{run['iops']:.0f} IOPS, {run['cpu_s']:.2f} CPU s")
    this, base = medians(runs["this"])["iops"], medians(runs["baseline"])["iops"]
    print(f"\nmedian of {args.rounds} rounds: {this:.0f} / {base:.0f} IOPS = {this / base:.2f}x")


if __name__ == "__main__":
    main()

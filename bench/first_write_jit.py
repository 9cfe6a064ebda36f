"""A gateway started cold writes a fresh volume: how much of its CPU is the JIT compiling the write path.

Each round starts `cgw serve` of this checkout and of a baseline checkout in turn (fresh data
directories, nothing else running), creates a volume, and writes it with fio (1 MiB writes, QD8,
nbd engine) for `--seconds`, one pass at most. Per run: MiB/s, the gateway's CPU seconds per GiB
over the write, and the CPU its C2 compiler threads used since the start (from /proc, per
thread). Medians over rounds, and this checkout's figures as ratios to the baseline's.

The throughput of a first write on these machines follows the host more than the server: pages
the guest frees go back to the host (virtio-balloon free page reporting), and the first touch of
one again costs the guest system time in whatever process writes it (the page cache of a pwrite
included). CPU per GiB and the compiler's CPU are the steadier figures.

    python3 bench/first_write_jit.py --baseline /work/other-checkout [--rounds 3] [--out DIR]
"""
import argparse
import json
import shutil
from pathlib import Path

from nbd_servers import (GiB, ROOT, WRITE_1M, Gateway, against_baseline, fio, medians, proc_cpu_seconds,
                         threads_cpu_seconds)

VOLUME = "disk"


def one_run(root, workdir, size, seconds):
    gateway = Gateway(workdir / "data", root=root)
    try:
        gateway.must("POST", "/v1/volumes", {"name": VOLUME, "size": size})
        uri = f"nbd://127.0.0.1:{gateway.port}/{VOLUME}"
        cpu_before = proc_cpu_seconds(gateway.proc.pid)
        result = fio(uri, "first-write", WRITE_1M, size, seconds, ramp_s=0, time_based=False)
        cpu = proc_cpu_seconds(gateway.proc.pid) - cpu_before
        return {"mib_s": result["bw_mib_s"], "gib": result["io_bytes"] / GiB,
                "cpu_s_per_gib": cpu / (result["io_bytes"] / GiB),
                "c2_cpu_s": threads_cpu_seconds(gateway.proc.pid, "C2 Compiler")}
    finally:
        gateway.stop()
        shutil.rmtree(workdir / "data", ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", required=True, help="another checkout of cgw, its jar built")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=12)
    parser.add_argument("--size-gib", type=int, default=8)
    parser.add_argument("--out", default=str(ROOT / "bench" / "tmp" / "first-write-jit"))
    args = parser.parse_args()
    workdir = Path(args.out)
    workdir.mkdir(parents=True, exist_ok=True)
    runs = against_baseline(args.baseline, args.rounds,
                            lambda root: one_run(root, workdir, args.size_gib * GiB, args.seconds),
                            lambda run: f"{run['mib_s']:.0f} MiB/s, {run['gib']:.2f} GiB,"
                                        f" {run['cpu_s_per_gib']:.2f} CPU s/GiB, C2 {run['c2_cpu_s']:.2f} CPU s")
    this, base = medians(runs["this"]), medians(runs["baseline"])
    print(f"\nmedians of {args.rounds} rounds (this checkout / baseline):")
    for key, label in (("mib_s", "MiB/s"), ("cpu_s_per_gib", "gateway CPU s/GiB"), ("c2_cpu_s", "C2 CPU s")):
        print(f"  {label:>20}: {this[key]:8.2f} / {base[key]:8.2f} = {this[key] / base[key]:.2f}x")
    (workdir / "runs.json").write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()

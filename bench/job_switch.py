#!/usr/bin/env python3
"""What a change of workload costs cgw while its JIT catches up, with ./cgw's JVM options and
with others: a fresh gateway is filled, runs 20 s of 4 KiB random writes and 20 s of 1 MiB
reads, then 1 MiB writes in 10 s steps. Per step: MiB/s and the CPU of the JIT compiler threads
(C2) and of the gateway's other threads. The configurations alternate, round by round.

    python3 bench/job_switch.py                      # ./cgw's options against them without the JIT flag
    python3 bench/job_switch.py --rounds 3 --steps 4 --alt "-Xmx256m -XX:+UseShenandoahGC"

Results go to stdout (they are quoted in bench/README.md); this is an experiment, not a report.
"""
import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nbd_servers as nb  # noqa: E402
from nbd_bench import JOBS as NBD_JOBS  # noqa: E402

JOBS = {name: args for name, args, _ in NBD_JOBS}
# ./cgw serve's options before the JIT flag (297eaf9 and earlier)
BEFORE = "-Xms64m -Xmx256m -XX:MaxDirectMemorySize=256m -XX:+UseShenandoahGC"


def thread_cpu(pid):
    """CPU ticks per thread name (digits and dashes at the end dropped), summed."""
    ticks = collections.Counter()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{task}/stat").read()
        except FileNotFoundError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")].rstrip("0123456789-").strip()
        fields = stat[stat.rindex(")") + 2:].split()
        ticks[name] += int(fields[11]) + int(fields[12])
    return ticks


def run(label, java_opts, args, workdir):
    env_before = os.environ.get("CGW_JAVA_OPTS")
    if java_opts is None:
        os.environ.pop("CGW_JAVA_OPTS", None)
    else:
        os.environ["CGW_JAVA_OPTS"] = java_opts
    server = nb.Cgw("cgw", workdir, args.size)
    try:
        uri = server.start()
        nb.fill(uri, args.size)
        nb.fio(uri, "randwrite", JOBS["randwrite-4k-qd32"], args.size, 20)
        nb.fio(uri, "read", JOBS["read-1m-qd8"], args.size, 20)
        hz = os.sysconf("SC_CLK_TCK")
        for step in range(args.steps):
            before, start = thread_cpu(server.pid), time.time()
            result = nb.fio(uri, "write", JOBS["write-1m-qd8"], args.size, 10)
            took = time.time() - start
            used = thread_cpu(server.pid)
            used.subtract(before)
            c2 = sum(v for k, v in used.items() if k.startswith("C2 CompilerThre"))
            others = "  ".join(f"{k}:{100 * v / hz / took:.0f}%" for k, v in used.most_common(4)
                               if not k.startswith("C2") and v > 0)
            print(f"{label:8s} step {step}: {result['bw_mib_s']:6.0f} MiB/s  C2 {100 * c2 / hz / took:3.0f}%  | {others}",
                  flush=True)
    finally:
        server.stop()
        if env_before is None:
            os.environ.pop("CGW_JAVA_OPTS", None)
        else:
            os.environ["CGW_JAVA_OPTS"] = env_before


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="10 s steps of 1 MiB writes")
    parser.add_argument("--size", type=int, default=2 * nb.GiB)
    parser.add_argument("--alt", default=BEFORE, help="JVM options to compare with ./cgw's")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "/var/tmp")) as tmp:
        for _ in range(args.rounds):
            run("./cgw", None, args, Path(tmp))
            run("alt", args.alt, args, Path(tmp))


if __name__ == "__main__":
    main()

"""A cold gateway's back-to-back phases under different JVMs or JVM options: what the JIT costs a
fresh gateway, and which settings serve one best.

Each round starts `cgw serve` of this checkout once per set, in turn (order rotated per round),
each alone on a fresh 2 GiB export, and runs the back-to-back phases of nbd_bench.py (the same
PHASES, one pass or 10 s each, no pause). A set is NAME=OPTIONS, the options replacing the
launcher's (CGW_JAVA_OPTS), optionally NAME=OPTIONS@JAVA_HOME to run another JDK. Per phase:
medians over rounds of the figure, the gateway's CPU s/GiB, and the CPU its JIT compiler threads
(C1 and C2) used during the phase; each set's figures also as ratios to the first set's.

    D="-Xms64m -Xmx256m -XX:MaxDirectMemorySize=256m -XX:+UseShenandoahGC \
       -XX:+UnlockExperimentalVMOptions -XX:ShenandoahControlIntervalMin=10 -XX:PerMethodTrapLimit=0"
    python3 bench/jvm_ab.py --rounds 3 --set "current=$D" --set "c1=$D -XX:TieredStopAtLevel=1" \
        --set "jdk25=$D@/usr/lib/jvm/temurin-25-jdk-amd64"

($D is what `./cgw serve` passes to the JVM by default.)
"""
import argparse
import os
import statistics

import nbd_back_to_back as b2b
from nbd_servers import ROOT, GiB, Cgw, fio, jit_cpu_seconds, measured, rotated, serving


def gateway_class(name, options, java_home):
    """A Cgw whose launcher runs with these JVM options (and JDK)."""

    def start(self):
        saved = {k: os.environ.get(k) for k in ("CGW_JAVA_OPTS", "PATH")}
        os.environ["CGW_JAVA_OPTS"] = options
        if java_home:
            os.environ["PATH"] = f"{java_home}/bin:{saved['PATH']}"
        try:
            return Cgw.start(self)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    return type(name, (Cgw,), {"start": start})


def run_set(cls, workdir, size, runtime):
    result = {}
    with serving(cls, workdir, size) as (server, uri):
        for name, fio_args, metric, one_pass in b2b.PHASES:
            before = jit_cpu_seconds(server.pid)
            r, cpu = measured(server, name, lambda: fio(uri, name, fio_args, size, runtime, ramp_s=0,
                                                         time_based=not one_pass))
            result[name] = {"figure": b2b.figure(r, metric), "metric": metric,
                            "cpu_s_per_gib": b2b.cpu_figures(cpu, r["io_bytes"])["cpu_s_per_gib"],
                            "jit_cpu_s": jit_cpu_seconds(server.pid) - before}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", required=True, help="NAME=OPTIONS[@JAVA_HOME]")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runtime", type=int, default=10)
    parser.add_argument("--size", type=int, default=2 * GiB)
    args = parser.parse_args()
    classes = []
    for spec in args.set:
        name, rest = spec.split("=", 1)
        options, _, java_home = rest.partition("@")
        classes.append(gateway_class(name, options, java_home or None))
    workdir = ROOT / "bench" / "tmp" / "jvm-ab"
    workdir.mkdir(parents=True, exist_ok=True)
    runs = {cls.__name__: [] for cls in classes}
    for round_index in range(args.rounds):
        for cls in rotated(classes, round_index):
            r = run_set(cls, workdir, args.size, args.runtime)
            runs[cls.__name__].append(r)
            print(f"round {round_index + 1}, {cls.__name__}: " + ", ".join(
                f"{p} {v['figure']:.0f} ({v['jit_cpu_s']:.1f} s JIT)" for p, v in r.items()), flush=True)
    first = classes[0].__name__
    print(f"\nmedians of {args.rounds} rounds; ratio to {first}")
    print("| phase | set | figure | ratio | CPU s/GiB | JIT CPU s |")
    print("|---|---|---|---|---|---|")
    for phase, _, metric, _ in b2b.PHASES:
        reference = statistics.median(r[phase]["figure"] for r in runs[first])
        for name, rounds in runs.items():
            figure = statistics.median(r[phase]["figure"] for r in rounds)
            cpu = statistics.median(r[phase]["cpu_s_per_gib"] for r in rounds)
            jit = statistics.median(r[phase]["jit_cpu_s"] for r in rounds)
            print(f"| {phase} | {name} | {figure:.0f} {metric} | {figure / reference:.2f} | {cpu:.2f} | {jit:.2f} |")


if __name__ == "__main__":
    main()

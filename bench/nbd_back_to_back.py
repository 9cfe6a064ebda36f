"""Back-to-back mode of nbd_bench.py (the headline) and the extra measurements of issue 26.

Back to back: each server alone (the others stopped) runs PHASES on a fresh export in a row with
no pause, sync or settle between them, as a new user's disk meets them; then the next server.
Before them (--warm-up S, default 3) every server runs the same phases for S seconds each on a
scratch export of the same size, again until its JIT compiler is quiet (JIT_QUIET_S; a C server
has none), and the export is then discarded (cgw: a second volume, deleted, and the gateway left
to go idle; a raw-file peer: its file, then a restart on a fresh one): a gateway runs for months,
and the seconds of CPU its JIT needs after a start are not a cost of the writes a guest sends it
later. --warm-up 0 measures servers started cold.

Rounds rotate the servers' order; the report gives medians. Phases 1 and 2 are one pass over the
export each: a time-based job would wrap around and rewrite what it wrote a second
before, and "first write" would be a first write only for its first pass. The others run
`runtime` seconds. No ramp: what a phase inherits from the one before (a defragmenter or cleaner
at work, compactions, a JIT meeting new branches) is part of its figure, and a local server's
queue fills within milliseconds, so a ramp would hide exactly that.

Extras, one run per server, each on a fresh server alone and warmed up the same way (but for the
space after two writes, where a warm-up's deleted volume would count in cgw's du): nbdcopy of a random file into a fresh
export; 1 MiB writes for a minute into a fresh 16 GiB export (first 10 s vs last 10 s); disk space
after the whole export is written twice with no snapshot; and for cgw, a restore from a backup of
a volume holding that file against `qemu-img convert` of the file into a fresh cgw volume.
"""
import contextlib
import os
import statistics
import subprocess

from nbd_servers import (GiB, MiB, RANDREAD_4K, RANDWRITE_4K, READ_1M, WRITE_1M, WRITE_FLUSH_4K, Cgw,
                         disk_used_bytes, fill, fio, jit_cpu_seconds, measured, medians, nbdcopy, proc_peak_rss_mib,
                         rotated, serving, settle, timed)

PHASES = [
    # name, fio arguments, metric, one pass over the export (else `runtime` seconds)
    ("first-write-1m-qd8", WRITE_1M, "MiB/s", True),
    ("rewrite-1m-qd8", WRITE_1M, "MiB/s", True),
    ("randwrite-4k-qd32", RANDWRITE_4K, "IOPS", False),
    ("write-1m-qd8-after-random", WRITE_1M, "MiB/s", False),
    ("randread-4k-qd32", RANDREAD_4K, "IOPS", False),
    ("read-1m-qd8", READ_1M, "MiB/s", False),
    ("randwrite-4k-qd1-flush", WRITE_FLUSH_4K, "IOPS", False),
]
# issue 26: the least ratio of cgw to nbdkit-file per phase; every phase at least 1.0x qemu-nbd
NBDKIT_TARGETS = {"first-write-1m-qd8": 0.9, "rewrite-1m-qd8": 1.0, "write-1m-qd8-after-random": 0.8,
                  "randwrite-4k-qd32": 1.0, "randread-4k-qd32": 1.0}
QEMU_TARGET = 1.0
EXTRAS = ("nbdcopy-in", "sustained", "space", "restore")
SUSTAINED = {"size": 16 * GiB, "seconds": 60, "window_s": 10}
SUSTAINED_QUICK = {"size": GiB, "seconds": 9, "window_s": 3}
PEERS = ("QemuNbd", "NbdkitFile")
LABELS = {"Cgw": "cgw", "QemuNbd": "qemu-nbd", "NbdkitFile": "nbdkit file", "CgwBaseline": "baseline"}


def cpu_figures(cpu_s, moved_bytes):
    return {"server_cpu_s": cpu_s, "cpu_s_per_gib": cpu_s / (moved_bytes / GiB) if moved_bytes else float("nan")}


def block_bytes(fio_args):
    bs = next(a for a in fio_args if a.startswith("--bs="))[5:]
    return int(bs[:-1]) << {"k": 10, "m": 20}[bs[-1]]


def figure(result, metric):
    return result["iops"] if metric == "IOPS" else result["bw_mib_s"]


# A warm-up repeats the phases until the JIT compiler threads used less than this much CPU over a
# round of them (a C server has none and stops after one), at most WARM_UP_ROUNDS times.
JIT_QUIET_S = 0.5
WARM_UP_ROUNDS = 4


@contextlib.contextmanager
def warmed(cls, workdir, size, warm_up_s):
    """serving(), after rounds of warm_up_s seconds of every phase on a scratch export that is
    then discarded, until the JIT is quiet (see JIT_QUIET_S), and once the server is idle again.
    Sets server.warm_up on what it did."""
    with serving(cls, workdir, size) as (server, uri):
        server.warm_up = {"rounds": 0, "jit_cpu_s": []}
        if warm_up_s > 0:
            with server.scratch_export() as scratch:
                for _ in range(WARM_UP_ROUNDS):
                    jit0 = jit_cpu_seconds(server.pid)
                    for name, fio_args, _, one_pass in PHASES:
                        measured(server, f"warm-up {name}", lambda: fio(scratch, name, fio_args, size, warm_up_s,
                                                                        ramp_s=0, time_based=not one_pass))
                    jit = jit_cpu_seconds(server.pid) - jit0
                    server.warm_up["rounds"] += 1
                    server.warm_up["jit_cpu_s"].append(round(jit, 2))
                    if jit < JIT_QUIET_S:
                        break
            settle([server])
        yield server, uri


def run_phases(cls, workdir, size, phases, runtime, warm_up_s):
    """One server's phases back to back on a fresh export: {phase: fio figures and CPU, "peak_rss_mib"}."""
    result = {}
    with warmed(cls, workdir, size, warm_up_s) as (server, uri):
        for name, fio_args, _, one_pass in phases:
            jit0 = jit_cpu_seconds(server.pid)
            r, cpu = measured(server, name, lambda: fio(uri, name, fio_args, size, runtime, ramp_s=0,
                                                         time_based=not one_pass, per_second_log=workdir / "fio"))
            jit = jit_cpu_seconds(server.pid) - jit0
            result[name] = {**r, **cpu_figures(cpu, r["io_bytes"]), "jit_cpu_s": max(0.0, jit)}
        result["peak_rss_mib"] = proc_peak_rss_mib(server.pid)
        result["warm_up"] = server.warm_up
    return result


def back_to_back(classes, workdir, args):
    """{server: {phase: medians over rounds, "peak_rss_mib": max, "rounds": [run_phases(), ...]}}."""
    runs = {cls.__name__: [] for cls in classes}
    for round_index in range(args.rounds):
        for cls in rotated(classes, round_index):
            r = run_phases(cls, workdir, args.size, args.phases, args.phase_runtime, args.warm_up)
            runs[cls.__name__].append(r)
            print(f"back to back, round {round_index + 1}, {cls.__name__} (warm-up {r['warm_up']}): " + ", ".join(
                f"{name} {figure(r[name], metric):.0f} {metric}" for name, _, metric, _ in args.phases), flush=True)
    out = {}
    for name, rounds in runs.items():
        out[name] = {phase: medians([r[phase] for r in rounds]) for phase, *_ in args.phases}
        out[name]["peak_rss_mib"] = max(r["peak_rss_mib"] for r in rounds)
        out[name]["rounds"] = rounds
    return out


def nbdcopy_in(cls, workdir, image, warm_up_s):
    size = image.stat().st_size
    with warmed(cls, workdir, size, warm_up_s) as (server, uri):
        seconds, cpu = measured(server, "nbdcopy-in", lambda: nbdcopy(str(image), uri))
        rss = proc_peak_rss_mib(server.pid)
    return {"mib_s": size / MiB / seconds, "seconds": seconds, **cpu_figures(cpu, size), "peak_rss_mib": rss}


def sustained(cls, workdir, size, seconds, window_s, warm_up_s):
    """1 MiB writes QD8 for `seconds` into a fresh export of `size` (wrapping around it): MiB/s of the
    first and the last window_s seconds."""
    with warmed(cls, workdir, size, warm_up_s) as (server, uri):
        r, cpu = measured(server, "sustained", lambda: fio(uri, "sustained", WRITE_1M, size, seconds, ramp_s=0,
                                                           per_second_log=workdir / "fio"))
        used, rss = disk_used_bytes(server.data), proc_peak_rss_mib(server.pid)
    per_second = [mib_s for _, mib_s in r["per_second"]]
    first, last = statistics.mean(per_second[:window_s]), statistics.mean(per_second[-window_s:])
    return {"mib_s": r["bw_mib_s"], "written_gib": r["io_bytes"] / GiB, "first_mib_s": first, "last_mib_s": last, "last_vs_first": last / first,
            "window_s": window_s, "size_bytes": size, **cpu_figures(cpu, r["io_bytes"]), "disk_used_gib": used / GiB,
            "peak_rss_mib": rss, "per_second": r["per_second"]}


def space(cls, workdir, size, warm_up_s):
    """Disk used by the server's data after the whole export is written twice (no snapshot), at
    once and after the server went idle (at most a minute)."""
    with warmed(cls, workdir, size, warm_up_s) as (server, uri):
        for _ in range(2):
            measured(server, "space", lambda: fill(uri, size))
        os.sync()
        used = disk_used_bytes(server.data)
        waited = settle([server], timeout=60)
        settled, rss = disk_used_bytes(server.data), proc_peak_rss_mib(server.pid)
    return {"logical_bytes": size, "used_bytes": used, "used_settled_bytes": settled, "settle_s": waited,
            "used_vs_logical": used / size, "settled_vs_logical": settled / size, "peak_rss_mib": rss}


def restore(cls, workdir, image, warm_up_s):
    """On one gateway: the image copied into a volume, snapshot and export to a repository in the
    data directory (untimed); then, each after the gateway went idle, the timed restore into a new
    volume (checked against the image) and the timed `qemu-img convert` of the image into a fresh one."""
    size = image.stat().st_size
    with warmed(cls, workdir, size, warm_up_s) as (server, uri):
        gw = server.gateway
        nbdcopy(str(image), uri)
        snapshot = gw.must("POST", "/v1/snapshots", {"volumes": ["disk"], "timeoutMs": 30000})["id"]
        repo = server.data / "backups" / "repo"
        repo.parent.mkdir(parents=True, exist_ok=True)
        export_s, _ = gw.job(f"/v1/snapshots/{snapshot}/export", {"target": repo.as_uri()})
        settle([server])
        (restore_s, _), restore_cpu = measured(server, "restore", lambda: gw.job(
            "/v1/restores", {"source": repo.as_uri(), "snapshot": snapshot, "prefix": "r-"}))
        same = subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "raw", str(image), server.uri("r-disk")],
                              capture_output=True, text=True)
        if same.returncode != 0:
            raise RuntimeError(f"the restored volume differs from the image: {same.stdout.strip()} {same.stderr.strip()}")
        gw.must("POST", "/v1/volumes", {"name": "convert", "size": size})
        settle([server])
        convert_s, convert_cpu = measured(server, "qemu-img convert", lambda: timed(
            ["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", str(image), server.uri("convert")]))
        rss = proc_peak_rss_mib(server.pid)
    return {"size_bytes": size, "export_s": export_s, "restore_s": restore_s, "restore_mib_s": size / MiB / restore_s,
            "restore_cpu_s": restore_cpu, "convert_s": convert_s, "convert_mib_s": size / MiB / convert_s,
            "convert_cpu_s": convert_cpu, "restore_vs_convert": convert_s / restore_s, "peak_rss_mib": rss}


def extras(classes, workdir, args, image):
    """{server: {extra: figures}}: each extra on every server in turn, each time on a fresh server."""
    w = args.warm_up
    runners = {"nbdcopy-in": lambda cls: nbdcopy_in(cls, workdir, image, w),
               "sustained": lambda cls: sustained(cls, workdir, **args.sustained, warm_up_s=w),
               # space is no speed figure, and a warm-up's deleted volume would count in cgw's du
               "space": lambda cls: space(cls, workdir, args.size, 0),
               "restore": lambda cls: restore(cls, workdir, image, w)}
    out = {cls.__name__: {} for cls in classes}
    for extra in args.extras:
        for cls in classes:
            if extra == "restore" and not issubclass(cls, Cgw):
                continue
            out[cls.__name__][extra] = r = runners[extra](cls)
            print(f"{extra}, {cls.__name__}: " + ", ".join(f"{k} {v:.2f}" for k, v in r.items()
                                                          if isinstance(v, float)), flush=True)
    return out


def warm_up_text(warm_up_s):
    if warm_up_s <= 0:
        return "started cold"
    return (f"warmed up first by the phases run {warm_up_s} s each on a scratch export of the same size, "
            f"repeated until its JIT compiler used under {JIT_QUIET_S} s of CPU in a round (at most "
            f"{WARM_UP_ROUNDS} rounds; a C server: one), the export then discarded and the server idle again")


def ratio_cell(value, peer):
    return f"{value / peer:.2f}" if peer else "-"


def target_cell(c, q, n, phase):
    cells = [f"qemu-nbd >= {QEMU_TARGET}: {'met' if c / q >= QEMU_TARGET else '**missed**'}"]
    if phase in NBDKIT_TARGETS:
        t = NBDKIT_TARGETS[phase]
        cells.append(f"nbdkit >= {t}: {'met' if c / n >= t else '**missed**'}")
    return "; ".join(cells)


def per_second_cell(rounds, phase, metric, fio_args):
    """The first, lowest and highest 1 s figure over all rounds, from fio's bandwidth log."""
    scale = MiB / block_bytes(fio_args) if metric == "IOPS" else 1
    firsts = [r[phase]["per_second"][0][1] * scale for r in rounds if r[phase]["per_second"]]
    values = [v * scale for r in rounds for _, v in r[phase]["per_second"]]
    if not values:
        return "-"
    return f"{statistics.median(firsts):.0f}; {min(values):.0f}-{max(values):.0f}"


def markdown(b2b, extra, args, names):
    """The back-to-back table, the per-second table, the extras; a table against the baseline if any."""
    lines = []
    if b2b:
        lines += ["## Back to back (the headline)", "",
                  f"Each server alone on a fresh {args.size >> 20} MiB export, {warm_up_text(args.warm_up)}, its phases in a row "
                  f"with no pause (phases 1-2 one pass over the export, cut at {args.phase_runtime} s; the others "
                  f"{args.phase_runtime} s each; no ramp), fio nbd engine; medians of {args.rounds} round(s), the "
                  "servers' order rotated per round. CPU s/GiB: the server process's user+system CPU over the phase per GiB moved; "
                  "cgw JIT CPU s: the CPU its JIT compiler threads used during the phase (a lower bound).",
                  "", "| phase | metric | cgw | qemu-nbd | nbdkit file | cgw/qemu-nbd | cgw/nbdkit | target (issue 26) "
                  "| CPU s/GiB cgw | qemu-nbd | nbdkit | cgw JIT CPU s |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for phase, _, metric, _ in args.phases:
            c, q, n = (figure(b2b[s][phase], metric) for s in ("Cgw",) + PEERS)
            cpu = " | ".join(f"{b2b[s][phase]['cpu_s_per_gib']:.2f}" for s in ("Cgw",) + PEERS)
            jit = b2b["Cgw"][phase].get("jit_cpu_s", float("nan"))
            lines.append(f"| {phase} | {metric} | {c:.0f} | {q:.0f} | {n:.0f} | {c / q:.2f} | {c / n:.2f} | "
                         f"{target_cell(c, q, n, phase)} | {cpu} | {jit:.1f} |")
        c, q, n = (b2b[s]["peak_rss_mib"] for s in ("Cgw",) + PEERS)
        lines += [f"| all | peak RSS MiB (max of rounds) | {c:.0f} | {q:.0f} | {n:.0f} | {c / q:.2f} | {c / n:.2f} | | | | | |",
                  "", "Within each phase, from fio's 1 s bandwidth log over all rounds: the first second (median of "
                  "rounds); the lowest and the highest second. A phase shorter than a second has no sample.", "",
                  "| phase | metric | cgw | qemu-nbd | nbdkit file |", "|---|---|---|---|---|"]
        for phase, fio_args, metric, _ in args.phases:
            cells = " | ".join(per_second_cell(b2b[s]["rounds"], phase, metric, fio_args) for s in ("Cgw",) + PEERS)
            lines.append(f"| {phase} | {metric}: first; low-high | {cells} |")
        lines.append("")
    if "CgwBaseline" in names and b2b:
        lines += ["Back to back, cgw against the baseline (medians of rounds, each in the same rotation):", "",
                  "| phase | metric | cgw | baseline | cgw/baseline | CPU s/GiB cgw | baseline |", "|---|---|---|---|---|---|---|"]
        for phase, _, metric, _ in args.phases:
            c, b = b2b["Cgw"][phase], b2b["CgwBaseline"][phase]
            lines.append(f"| {phase} | {metric} | {figure(c, metric):.0f} | {figure(b, metric):.0f} | "
                         f"{figure(c, metric) / figure(b, metric):.2f} | {c['cpu_s_per_gib']:.2f} | {b['cpu_s_per_gib']:.2f} |")
        lines.append("")
    if extra and any(extra.values()):
        lines += extras_markdown(extra, args)
    return lines


def extras_markdown(extra, args):
    servers = [s for s in ("Cgw",) + PEERS + ("CgwBaseline",) if s in extra]
    header = " | ".join(LABELS[s] for s in servers)
    lines = ["## Extras", "",
             f"Each on a fresh server alone ({warm_up_text(args.warm_up)}), one run per server, the servers in turn: nbdcopy of a file of random data "
             "into a fresh export; 1 MiB writes QD8 for a while into a fresh export (MiB/s of the first and last "
             "seconds, from fio's 1 s bandwidth log); disk used (du) by the server's data after the whole export is "
             "written twice with no snapshot, at once and after the server went idle (at most 60 s). The restore, "
             "on cgw alone, is below.", "",
             f"| measurement | {header} | cgw/qemu-nbd | cgw/nbdkit | target |", "|---|" + "---|" * (len(servers) + 3)]

    def row(label, extra_name, key, fmt, ratios=True, target=""):
        if not all(extra_name in extra[s] for s in servers):
            return
        values = [extra[s][extra_name][key] for s in servers]
        c = values[0]
        q, n = (extra[p][extra_name][key] for p in PEERS)
        cells = " | ".join(format(v, fmt) for v in values)
        r = f"{ratio_cell(c, q)} | {ratio_cell(c, n)}" if ratios else " | "
        lines.append(f"| {label} | {cells} | {r} | {target} |")

    copy_mib = args.copy_mib
    s = args.sustained
    window, total, gib = s["window_s"], s["seconds"], s["size"] // GiB
    row(f"nbdcopy file -> fresh export, {copy_mib} MiB: MiB/s", "nbdcopy-in", "mib_s", ".0f",
        target=met("nbdkit >= 0.9", extra, "nbdcopy-in", "mib_s", 0.9))
    row("nbdcopy: server CPU s/GiB", "nbdcopy-in", "cpu_s_per_gib", ".2f")
    row(f"{total} s of 1 MiB writes into a fresh {gib} GiB export: first {window} s, MiB/s", "sustained",
        "first_mib_s", ".0f")
    row(f"the same: last {window} s, MiB/s", "sustained", "last_mib_s", ".0f")
    row("the same: GiB written (more than the export: the end overwrites)", "sustained", "written_gib", ".1f")
    last_vs_first = extra["Cgw"].get("sustained", {}).get("last_vs_first")
    row("the same: last / first", "sustained", "last_vs_first", ".2f", ratios=False,
        target="" if last_vs_first is None else f"cgw >= 0.8: {'met' if last_vs_first >= 0.8 else '**missed**'}")
    row("the same: server CPU s/GiB", "sustained", "cpu_s_per_gib", ".2f")
    row("the same: disk used after it, GiB", "sustained", "disk_used_gib", ".1f", ratios=False)
    settled = extra["Cgw"].get("space", {}).get("settled_vs_logical")
    row(f"space after writing the {args.size >> 20} MiB export twice: used / logical, at once", "space",
        "used_vs_logical", ".2f", ratios=False)
    row("the same after the server went idle", "space", "settled_vs_logical", ".2f", ratios=False,
        target="" if settled is None else f"cgw <= 1.3: {'met' if settled <= 1.3 else '**missed**'}")
    rss = {srv: max((r["peak_rss_mib"] for r in extra[srv].values()), default=float("nan")) for srv in servers}
    lines.append("| peak RSS MiB (max over the extras) | " + " | ".join(f"{rss[srv]:.0f}" for srv in servers) +
                 f" | {rss['Cgw'] / rss['QemuNbd']:.2f} | {rss['Cgw'] / rss['NbdkitFile']:.2f} | "
                 f"cgw <= 1024: {'met' if rss['Cgw'] <= 1024 else '**missed**'} |")
    lines.append("")
    restores = [srv for srv in servers if "restore" in extra[srv]]
    if restores:
        lines += [f"Restore: on one gateway, a volume holding the {copy_mib} MiB file is snapshotted and exported to "
                  "a `file://` repository in its data directory (untimed); then, each after the gateway went idle, "
                  "`POST /v1/restores` into a new volume (job polled every 20 ms; the result compared with the file) "
                  "and `qemu-img convert -n` of the file into a fresh volume of the same gateway.", "",
                  "| gateway | restore MiB/s | qemu-img convert into cgw MiB/s | restore / convert | target | "
                  "gateway CPU s: restore | convert |", "|---|---|---|---|---|---|---|"]
        for srv in restores:
            r = extra[srv]["restore"]
            lines.append(f"| {LABELS[srv]} | {r['restore_mib_s']:.0f} | {r['convert_mib_s']:.0f} | "
                         f"{r['restore_vs_convert']:.2f} | >= 1.0: {'met' if r['restore_vs_convert'] >= 1 else '**missed**'} | "
                         f"{r['restore_cpu_s']:.1f} | {r['convert_cpu_s']:.1f} |")
        lines.append("")
    return lines


def met(label, extra, name, key, least):
    if name not in extra["Cgw"] or name not in extra["NbdkitFile"]:
        return ""
    ok = extra["Cgw"][name][key] / extra["NbdkitFile"][name][key] >= least
    return f"{label}: {'met' if ok else '**missed**'}"

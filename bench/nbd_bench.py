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
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GiB = 1 << 30

JOBS = [
    # name, fio args, metric
    ("randread-4k-qd32", ["--rw=randread", "--bs=4k", "--iodepth=32"], "iops"),
    ("randwrite-4k-qd32", ["--rw=randwrite", "--bs=4k", "--iodepth=32"], "iops"),
    ("read-1m-qd8", ["--rw=read", "--bs=1m", "--iodepth=8"], "bw"),
    ("write-1m-qd8", ["--rw=write", "--bs=1m", "--iodepth=8"], "bw"),
    ("randwrite-4k-qd1-flush", ["--rw=randwrite", "--bs=4k", "--iodepth=1", "--fsync=1"], "lat"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """A running NBD server: start() returns (pid, uri)."""

    def __init__(self, name, workdir, size):
        self.name, self.workdir, self.size = name, workdir, size
        self.proc = None
        self.port = free_port()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def pid(self):
        return self.proc.pid


class Cgw(Server):
    root = ROOT

    def start(self):
        data = self.workdir / f"{self.name}-data"
        shutil.rmtree(data, ignore_errors=True)
        env = dict(os.environ)
        self.proc = subprocess.Popen(
            [str(self.root / "cgw"), "serve", "--data", str(data), "--nbd", f"127.0.0.1:{self.port}",
             "--http", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        lines = [self.proc.stdout.readline() for _ in range(3)]
        rest = next(l for l in lines if l.startswith("REST listening on "))
        url = rest.split(" on ", 1)[1].strip()
        token = (data / "api-token").read_text().strip()
        body = json.dumps({"name": "disk", "size": self.size}).encode()
        import urllib.request
        req = urllib.request.Request(url + "/v1/volumes", data=body, method="POST",
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
        wait_port(self.port)
        return f"nbd://127.0.0.1:{self.port}/disk"


def baseline_cgw(checkout):
    """The Cgw class of another checkout's gateway."""
    return type("CgwBaseline", (Cgw,), {"root": Path(checkout).resolve()})


class RawFileServer(Server):
    """A peer serving a sparse raw file on the same disk; its log goes next to the file."""

    def command(self, image):
        raise NotImplementedError

    def start(self):
        image = self.workdir / f"{self.name}.raw"
        image.unlink(missing_ok=True)
        subprocess.run(["truncate", "-s", str(self.size), str(image)], check=True)
        with open(self.workdir / f"{self.name}.log", "w") as log:
            self.proc = subprocess.Popen(self.command(image), stdout=log, stderr=log)
        wait_port(self.port)
        return f"nbd://127.0.0.1:{self.port}/disk"


class QemuNbd(RawFileServer):
    def command(self, image):
        return ["qemu-nbd", "-f", "raw", "-t", "-x", "disk", "-b", "127.0.0.1", "-p", str(self.port),
                "--shared=16", str(image)]


class NbdkitFile(RawFileServer):
    def command(self, image):
        return ["nbdkit", "-f", "-i", "127.0.0.1", "-p", str(self.port), "-e", "disk", "file", f"file={image}"]


def fio(uri, name, args, size, runtime):
    cmd = ["fio", f"--name={name}", "--ioengine=nbd", f"--uri={uri}", f"--size={size}",
           "--time_based", f"--runtime={runtime}", "--ramp_time=2", "--output-format=json",
           "--randrepeat=0", "--norandommap"] + args
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    job = json.loads(out[out.index("{"):])["jobs"][0]
    side = job["write"] if job["write"]["io_bytes"] > 0 else job["read"]
    clat = side["clat_ns"].get("percentile", {})
    if "fsync" in " ".join(args):
        # with a flush after every write, the latency users see is write + flush
        sync = job.get("sync", {}).get("lat_ns", {}).get("percentile", {})
        p50 = clat.get("50.000000", 0) + sync.get("50.000000", 0)
        p99 = clat.get("99.000000", 0) + sync.get("99.000000", 0)
    else:
        p50, p99 = clat.get("50.000000", 0), clat.get("99.000000", 0)
    return {"iops": side["iops"], "bw_mib_s": side["bw_bytes"] / (1 << 20), "p50_us": p50 / 1000, "p99_us": p99 / 1000}


def fill(uri, size):
    """Writes the whole export once so that reads hit data, not holes."""
    subprocess.run(["fio", "--name=fill", "--ioengine=nbd", f"--uri={uri}", "--rw=write", "--bs=1m",
                    "--iodepth=8", f"--size={size}", "--refill_buffers", "--output-format=terse"],
                   check=True, capture_output=True)


def nbdcopy(src, dst):
    start = time.time()
    done = subprocess.run(["nbdcopy", src, dst], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"nbdcopy {src} {dst} failed ({done.returncode}): {done.stderr.strip()}")
    return time.time() - start


def settle(servers, idle_pct=5, timeout=120):
    """Writes back all dirty pages (sync) and waits until no server is busy (all of them together
    under idle_pct of a core for a second), so that neither the writeback of what one server wrote
    nor its background work (cgw's defragmenter after random writes) runs during another's
    measurement. Returns the seconds waited."""
    start = time.time()
    os.sync()
    while time.time() - start < timeout:
        cpu0 = sum(proc_cpu_seconds(s.pid) for s in servers)
        time.sleep(1)
        if 100 * (sum(proc_cpu_seconds(s.pid) for s in servers) - cpu0) < idle_pct:
            return time.time() - start
    print(f"servers still busy after {timeout}s; measuring anyway", file=sys.stderr)
    return time.time() - start


def baseline_commit(checkout):
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown commit"


def rotated(servers, run):
    """The order of the servers in run number run: each goes first in turn, so that none always
    follows the same peer."""
    shift = run % len(servers)
    return servers[shift:] + servers[:shift]


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
                results[s.name][name] = {k: statistics.median(r[k] for r in runs[s.name]) for k in runs[s.name][0]}
                results[s.name][name]["runs"] = runs[s.name]
        if args.copy:
            workdir = servers[0].workdir
            copy_src = workdir / "copy.raw"
            if not copy_src.exists() or copy_src.stat().st_size != args.copy_mib << 20:
                subprocess.run(["dd", "if=/dev/urandom", f"of={copy_src}", "bs=1M", f"count={args.copy_mib}",
                                "status=none"], check=True)
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
        lines += ["", f"cgw against the baseline ({args.baseline}, {baseline_commit(args.baseline)}), "
                  f"this checkout at {baseline_commit(ROOT)}:", "",
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

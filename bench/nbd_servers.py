"""What the NBD benchmarks drive: cgw (`./cgw serve` and its REST API), qemu-nbd and nbdkit's file
plugin on raw files, fio's nbd engine and nbdcopy; and the figures of a server process that the
reports put beside throughput (CPU seconds, peak RSS, disk used).

Used by nbd_bench.py and nbd_back_to_back.py, barrier_bench.py, backup_bench.py, job_switch.py,
first_write_jit.py and partial_writes.py.
"""
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20
GiB = 1 << 30

# fio arguments of the jobs both modes of nbd_bench.py run
RANDREAD_4K = ["--rw=randread", "--bs=4k", "--iodepth=32"]
RANDWRITE_4K = ["--rw=randwrite", "--bs=4k", "--iodepth=32"]
READ_1M = ["--rw=read", "--bs=1m", "--iodepth=8"]
WRITE_1M = ["--rw=write", "--bs=1m", "--iodepth=8"]
WRITE_FLUSH_4K = ["--rw=randwrite", "--bs=4k", "--iodepth=1", "--fsync=1"]


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
    """User + system CPU seconds of a process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def threads_cpu_seconds(pid, name_contains):
    """User + system CPU seconds of a process's threads whose name (comm) contains name_contains;
    a thread that ended meanwhile no longer counts."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if name_contains not in (task / "comm").read_text():
                continue
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def jit_cpu_seconds(pid):
    """CPU seconds of a JVM's JIT compiler threads now alive (a C server has none: 0). HotSpot ends
    compiler threads it no longer needs, and theirs drops out: a difference is a lower bound."""
    return threads_cpu_seconds(pid, "CompilerThre")


def proc_peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def disk_used_bytes(path):
    """Bytes allocated on disk (what du counts, not the apparent size) by a file or a directory tree."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_blocks * 512
    used = 0
    for directory, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # a server deletes files as we walk
                used += os.lstat(os.path.join(directory, name)).st_blocks * 512
    return used


def stop_process(proc, timeout_s):
    """SIGTERM, and SIGKILL if it has not ended after timeout_s."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def commit_of(checkout):
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown commit"


class Gateway:
    """`cgw serve` of a checkout on a fresh data directory, and its REST API."""

    def __init__(self, data, root=ROOT, port=None, log=None):
        self.data = Path(data)
        shutil.rmtree(self.data, ignore_errors=True)
        self.port = port or free_port()
        self.proc = subprocess.Popen(
            [str(root / "cgw"), "serve", "--data", str(self.data), "--nbd", f"127.0.0.1:{self.port}",
             "--http", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=log or subprocess.DEVNULL, text=True)
        lines = [self.proc.stdout.readline() for _ in range(3)]
        rest = next((l for l in lines if l.startswith("REST listening on ")), None)
        if rest is None:
            stop_process(self.proc, 10)
            raise RuntimeError(f"cgw serve did not start (exit {self.proc.returncode}): {lines}")
        self.url = rest.split(" on ", 1)[1].strip()
        self.token = (self.data / "api-token").read_text().strip()
        wait_port(self.port)

    def api(self, method, path, body=None):
        """(status, parsed JSON or None, seconds)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": "Bearer " + self.token,
                                              "Content-Type": "application/json"})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(req) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        elapsed = time.perf_counter() - start
        return status, (json.loads(raw) if raw else None), elapsed

    def must(self, method, path, body=None, status=None):
        got, payload, _ = self.api(method, path, body)
        if status is not None and got != status or got >= 300:
            raise RuntimeError(f"{method} {path}: {got} {payload}")
        return payload

    def job(self, path, body):
        """Starts a job, polls it every 20 ms to the end; returns (seconds, final job JSON)."""
        start = time.perf_counter()
        status, payload, _ = self.api("POST", path, body)
        if status != 202:
            raise RuntimeError(f"POST {path}: {status} {payload}")
        while True:
            _, state, _ = self.api("GET", f"/v1/jobs/{payload['id']}")
            if state["state"] != "running":
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        if state["state"] != "done":
            raise RuntimeError(f"job {payload['id']} ended {state}")
        return elapsed, state

    def stop(self):
        stop_process(self.proc, 120)


class Server:
    """An NBD server with one export `disk` of `size` bytes: start() returns its URI. `data` is what
    it stores (a raw file or a data directory), deleted by remove() once stopped. Its output is
    appended to NAME.log in workdir."""

    def __init__(self, name, workdir, size):
        self.name, self.workdir, self.size = name, Path(workdir), size
        self.proc = None
        self.port = free_port()

    def uri(self, export="disk"):
        return f"nbd://127.0.0.1:{self.port}/{export}"

    @property
    def log_path(self):
        return self.workdir / f"{self.name}.log"

    def open_log(self):
        log = open(self.log_path, "a")
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} start, export of {self.size} bytes\n")
        log.flush()
        return log

    def check_alive(self, doing):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) during {doing}; see {self.log_path}")

    def stop(self):
        stop_process(self.proc, 60)

    def remove(self):
        if self.data.is_dir():
            shutil.rmtree(self.data, ignore_errors=True)
        else:
            self.data.unlink(missing_ok=True)

    @property
    def pid(self):
        return self.proc.pid

    @contextlib.contextmanager
    def scratch_export(self):
        """A second export of the same size for a warm-up: yields its URI, then discards it."""
        raise NotImplementedError


class Cgw(Server):
    root = ROOT

    @property
    def data(self):
        return self.workdir / f"{self.name}-data"

    def start(self):
        with self.open_log() as log:
            self.gateway = Gateway(self.data, self.root, self.port, log)
        self.proc = self.gateway.proc
        self.gateway.must("POST", "/v1/volumes", {"name": "disk", "size": self.size})
        return self.uri()

    @contextlib.contextmanager
    def scratch_export(self):
        """A volume of the same gateway (its JIT, caches and pools stay warm), deleted after."""
        self.gateway.must("POST", "/v1/volumes", {"name": "warm-up", "size": self.size})
        try:
            yield self.uri("warm-up")
        finally:
            for _ in range(100):  # 409 until the gateway has seen the client's connection close
                status, payload, _ = self.gateway.api("DELETE", "/v1/volumes/warm-up")
                if status != 409:
                    break
                time.sleep(0.1)
            if status != 204:
                raise RuntimeError(f"DELETE /v1/volumes/warm-up: {status} {payload}")


def baseline_cgw(checkout):
    """The Cgw class of another checkout's gateway."""
    return type("CgwBaseline", (Cgw,), {"root": Path(checkout).resolve()})


class RawFileServer(Server):
    """A peer serving a sparse raw file on the same disk."""

    def command(self, image):
        raise NotImplementedError

    @property
    def data(self):
        return self.workdir / f"{self.name}.raw"

    def start(self):
        self.data.unlink(missing_ok=True)
        subprocess.run(["truncate", "-s", str(self.size), str(self.data)], check=True)
        with self.open_log() as log:
            self.proc = subprocess.Popen(self.command(self.data), stdout=log, stderr=log)
        wait_port(self.port)
        return self.uri()

    @contextlib.contextmanager
    def scratch_export(self):
        """The export itself; then the server is restarted on a fresh file (nothing of a C
        server's process is warmed by use, so this is only the page cache's turn)."""
        yield self.uri()
        self.stop()
        self.remove()
        self.start()


class QemuNbd(RawFileServer):
    def command(self, image):
        return ["qemu-nbd", "-f", "raw", "-t", "-x", "disk", "-b", "127.0.0.1", "-p", str(self.port),
                "--shared=16", str(image)]


class NbdkitFile(RawFileServer):
    def command(self, image):
        return ["nbdkit", "-f", "-i", "127.0.0.1", "-p", str(self.port), "-e", "disk", "file", f"file={image}"]


@contextlib.contextmanager
def serving(cls, workdir, size, min_free_bytes=8 * GiB):
    """A fresh server of class cls, alone on its export: yields (server, uri); stops it and deletes
    its data afterwards. The server is killed if the disk's free space falls under min_free_bytes
    (a log-structured store can outgrow its export; other work shares this disk)."""
    server = cls(cls.__name__, workdir, size)
    stopped = threading.Event()

    def guard():
        while not stopped.wait(1):
            if shutil.disk_usage(workdir).free < min_free_bytes:
                print(f"{server.name}: under {min_free_bytes // GiB} GiB free on disk, killing it", file=sys.stderr)
                server.proc.kill()
                return

    try:
        uri = server.start()
        threading.Thread(target=guard, daemon=True).start()
        yield server, uri
    finally:
        stopped.set()
        server.stop()
        server.remove()
        os.sync()  # what is left of its writeback does not land in the next server's measurement


def measured(server, doing, run):
    """(run(), the server's CPU seconds over it); names the server if it died meanwhile."""
    cpu0 = proc_cpu_seconds(server.pid)
    try:
        result = run()
    except Exception:
        server.check_alive(doing)
        raise
    server.check_alive(doing)
    return result, proc_cpu_seconds(server.pid) - cpu0


def fio(uri, name, args, size, runtime, ramp_s=2, time_based=True, per_second_log=None):
    """One fio job through the nbd engine. time_based: `runtime` seconds, wrapping around the
    export; otherwise one pass over its `size` bytes, cut after `runtime` seconds at the latest.
    per_second_log: a path prefix for fio's bandwidth log averaged over 1 s, returned as
    "per_second": [[ms, MiB/s], ...]."""
    cmd = ["fio", f"--name={name}", "--ioengine=nbd", f"--uri={uri}", f"--size={size}", f"--runtime={runtime}",
           f"--ramp_time={ramp_s}", "--output-format=json", "--randrepeat=0", "--norandommap"] + args
    if time_based:
        cmd.append("--time_based")
    if per_second_log:
        cmd += [f"--write_bw_log={per_second_log}", "--log_avg_msec=1000"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"fio {name} on {uri} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    out = done.stdout
    job = json.loads(out[out.index("{"):])["jobs"][0]
    side = job["write"] if job["write"]["io_bytes"] > 0 else job["read"]
    clat = side["clat_ns"].get("percentile", {})
    if "--fsync=1" in args:
        # with a flush after every write, the latency users see is write + flush
        sync = job.get("sync", {}).get("lat_ns", {}).get("percentile", {})
        p50 = clat.get("50.000000", 0) + sync.get("50.000000", 0)
        p99 = clat.get("99.000000", 0) + sync.get("99.000000", 0)
    else:
        p50, p99 = clat.get("50.000000", 0), clat.get("99.000000", 0)
    result = {"iops": side["iops"], "bw_mib_s": side["bw_bytes"] / MiB, "p50_us": p50 / 1000, "p99_us": p99 / 1000,
              "io_bytes": side["io_bytes"], "seconds": side["runtime"] / 1000}
    if per_second_log:
        result["per_second"] = read_bw_log(Path(f"{per_second_log}_bw.1.log"))
    return result


def read_bw_log(path):
    """[[ms, MiB/s], ...] from fio's bandwidth log (lines `ms, KiB/s, direction, block size, ...`),
    without a last sample that covers less than half a second; deletes the log."""
    samples = []
    for line in path.read_text().splitlines():
        fields = line.split(",")
        if len(fields) >= 2 and fields[0].strip().isdigit():
            samples.append([int(fields[0]), int(fields[1]) / 1024])
    path.unlink()
    if len(samples) >= 2 and samples[-1][0] - samples[-2][0] < 500:
        samples.pop()
    return samples


def fill(uri, size):
    """Writes the whole export once, e.g. so that reads hit data, not holes."""
    subprocess.run(["fio", "--name=fill", "--ioengine=nbd", f"--uri={uri}", "--rw=write", "--bs=1m",
                    "--iodepth=8", f"--size={size}", "--refill_buffers", "--output-format=terse"],
                   check=True, capture_output=True)


def timed(cmd):
    """Seconds that `cmd` took; it must succeed."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def nbdcopy(src, dst):
    """Seconds that `nbdcopy src dst` took."""
    start = time.perf_counter()
    done = subprocess.run(["nbdcopy", src, dst], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"nbdcopy {src} {dst} failed ({done.returncode}): {done.stderr.strip()}")
    return time.perf_counter() - start


def random_image(path, mib):
    """A file of mib MiB of random data (kept for later runs while its size fits)."""
    if not path.exists() or path.stat().st_size != mib * MiB:
        subprocess.run(["dd", "if=/dev/urandom", f"of={path}", "bs=1M", f"count={mib}", "status=none"], check=True)
    return path


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


def medians(samples):
    """The median of each numeric field over dicts with the same keys (other fields left out)."""
    return {k: statistics.median(s[k] for s in samples) for k, v in samples[0].items()
            if isinstance(v, (int, float))}


def rotated(servers, run):
    """The order of the servers in run number run: each goes first in turn, and every other run
    the ones after it go in reverse, so that none always follows the same peer (a rotation alone
    keeps each server's predecessor: the page cache a server meets is what the one before it
    left, which moved first writes by 2x on this VM, bench/results/nbd-full-20261207-1233.md)."""
    shift = run % len(servers)
    order = servers[shift:] + servers[:shift]
    return order[:1] + order[:0:-1] if run % 2 else order


def against_baseline(baseline, rounds, one_run, describe):
    """A/B of this checkout and the checkout `baseline`: one_run(root) -> dict of figures for each
    in every round, in rotated order (whoever runs first meets the host's memory as the other left
    it), describe(figures) printed per run. Returns {"this": [figures...], "baseline": [...]}."""
    checkouts = {"this": ROOT, "baseline": Path(baseline).resolve()}
    runs = {name: [] for name in checkouts}
    for round_ in range(rounds):
        for name in rotated(list(checkouts), round_):
            figures = one_run(checkouts[name])
            runs[name].append(figures)
            print(f"round {round_ + 1} {name}: {describe(figures)}", flush=True)
            time.sleep(2)
    return runs

#!/usr/bin/env python3
"""Replication benchmark (issue 28): two `cgw serve` on this machine, the primary shipping a group of
two 2 GiB volumes to the replica through a user-space link (bench/link_proxy.py: 1 Gbit/s each
way, 10 ms one-way delay), while fio writes on the primary. One run, figures side by side:

1. lag p50/p99/max (the primary's `lagMs`, sampled every 100 ms) under fio 4 KiB random writes
   QD8 on both volumes, and under 1 MiB writes at 100 MiB/s per volume (200 MiB/s, half
   compressible: fio buffer_compress_percentage=50), at intervals of 200 ms, 1 s and 5 s;
2. the guest's throughput with replication on against off, same load, same run: the overhead;
3. bytes shipped (block bodies on the wire) against bytes changed (block data the epochs carried);
4. failback: demote, promote (timed), 256 MiB of new random data on the new primary, shipping
   back: bytes shipped against the bytes changed since the common epoch;
5. a 10 s cut of the link under the random writes: time from its return until the lag is back under
   two intervals;
6. beside each replicated row, the same load while the group is only snapshotted every interval
   (nothing shipped): the share of the overhead that the epochs themselves cost.
With --idle-replica the replica runs under SCHED_IDLE, so that on this one machine the guest pays
only for the primary's side of replication, as it would with the replica on another host.
Usage: bench/replication_bench.py [--runtime S] [--quick] [--idle-replica] [--loads rand4k,seq1m]
       [--intervals 200,1000,5000] [--no-extras] [--out bench/results]
Writes bench/results/replication-DATE.{json,md}.
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
from barrier_bench import pct  # noqa: E402
from link_proxy import LinkProxy  # noqa: E402
from nbd_servers import Gateway, commit_of, proc_cpu_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GROUP = "rg"
VOLUMES = ["r0", "r1"]
SIZE = "2GiB"
LINK_BYTES_PER_S = 125_000_000  # 1 Gbit/s
LINK_DELAY_S = 0.010
LOADS = {
    "rand4k": ["rw=randwrite", "bs=4k", "iodepth=8", "refill_buffers=1", "norandommap", "randrepeat=0"],
    "seq1m": ["rw=write", "bs=1m", "iodepth=4", "rate=100m", "refill_buffers=1", "buffer_compress_percentage=50"],
}


def fio(gw, load, runtime, workdir):
    """The load on both volumes for `runtime` s; MiB/s and IOPS written, summed over the jobs."""
    lines = ["[global]", "ioengine=nbd", "time_based", f"runtime={runtime}", "ramp_time=1", f"size={SIZE}",
             "thread"] + LOADS[load]
    for name in VOLUMES:
        lines += [f"[{name}]", f"uri=nbd://127.0.0.1:{gw.port}/{name}"]
    jobfile = workdir / f"{load}.fio"
    jobfile.write_text("\n".join(lines) + "\n")
    out = subprocess.run(["fio", "--output-format=json", str(jobfile)], check=True, capture_output=True,
                         text=True).stdout
    jobs = json.loads(out[out.index("{"):])["jobs"]
    return {"mib_s": sum(j["write"]["bw_bytes"] for j in jobs) / 2**20, "iops": sum(j["write"]["iops"] for j in jobs)}


def status(gw):
    return gw.must("GET", f"/v1/groups/{GROUP}/replication")


def await_state(gw, state, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = status(gw)
        if got["state"] == state:
            return got
        time.sleep(0.1)
    raise RuntimeError(f"{GROUP} not {state} within {timeout} s: {status(gw)}")


def replicate(a, b, target_url, interval_ms):
    a.must("PUT", f"/v1/groups/{GROUP}/replication",
           {"target": target_url, "targetToken": b.token, "intervalMs": interval_ms, "keep": 10})
    return await_state(a, "replicating")


def sample(gw, stop, lags):
    while not stop.is_set():
        got = status(gw)
        if got.get("lagMs") is not None:
            lags.append((time.time(), got["lagMs"]))
        stop.wait(0.1)


def caught_up(gw, interval_ms, timeout=600):
    """Waits until the lag is under two intervals: the catch-up from earlier rows is not measured."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        lag = status(gw).get("lagMs")
        if lag is not None and lag < 2 * interval_ms:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{GROUP} did not catch up within {timeout} s: {status(gw)}")


def replicated_run(a, b, link, load, interval_ms, runtime, workdir, cut_at=None):
    replicate(a, b, link.url, interval_ms)
    caught_up(a, interval_ms)
    before = status(a)
    cpu_a, cpu_b = proc_cpu_seconds(a.proc.pid), proc_cpu_seconds(b.proc.pid)
    stop, lags = threading.Event(), []
    sampler = threading.Thread(target=sample, args=(a, stop, lags))
    sampler.start()
    cut = {}
    if cut_at is not None:
        def cut_link():
            time.sleep(cut_at)
            link.cut()
            cut["from"] = time.time()
            time.sleep(10)
            link.heal()
            cut["healed"] = time.time()
        threading.Thread(target=cut_link, daemon=True).start()
    try:
        result = fio(a, load, runtime, workdir)
    finally:
        stop.set()
        sampler.join()
    after = status(a)
    a.must("DELETE", f"/v1/groups/{GROUP}/replication")
    values = [lag for _, lag in lags]
    result.update({
        "interval_ms": interval_ms, "lag_p50_ms": pct(values, 50), "lag_p99_ms": pct(values, 99),
        "lag_max_ms": max(values or [0]), "epochs": after["epochs"] - before["epochs"],
        "shipped_bytes": after["bytesShipped"] - before["bytesShipped"],
        "changed_bytes": after["bytesChanged"] - before["bytesChanged"],
        "cpu_primary_s": proc_cpu_seconds(a.proc.pid) - cpu_a, "cpu_replica_s": proc_cpu_seconds(b.proc.pid) - cpu_b,
    })
    result["shipped_per_changed"] = result["shipped_bytes"] / max(1, result["changed_bytes"])
    if cut:
        back = next((t for t, lag in lags if t > cut["healed"] and lag < 2 * interval_ms), None)
        result["cut_recovery_s"] = None if back is None else back - cut["healed"]
    return result


def snapshots_run(a, load, interval_ms, runtime, workdir):
    """The load while the group is snapshotted every interval, the newest 2 kept, and nothing shipped:
    what the epochs alone cost the guest (copy-on-write after each cut, the collector)."""
    stop, ids = threading.Event(), []

    def snapshots():
        while not stop.is_set():
            ids.append(a.must("POST", f"/v1/groups/{GROUP}/snapshots", {})["id"])
            while len(ids) > 2:
                a.must("DELETE", f"/v1/snapshots/{ids.pop(0)}")
            stop.wait(interval_ms / 1000)

    taker = threading.Thread(target=snapshots)
    taker.start()
    cpu = proc_cpu_seconds(a.proc.pid)
    try:
        result = fio(a, load, runtime, workdir)
    finally:
        stop.set()
        taker.join()
    for snapshot in ids:
        a.must("DELETE", f"/v1/snapshots/{snapshot}")
    result.update({"interval_ms": interval_ms, "cpu_primary_s": proc_cpu_seconds(a.proc.pid) - cpu})
    return result


def failback(a, b, link_ab, workdir):
    """Demote a, promote b (timed), write 256 MiB on b, ship it back to a: bytes against the change."""
    replicate(a, b, link_ab.url, 1000)
    start = time.perf_counter()
    a.must("POST", f"/v1/groups/{GROUP}/demote")
    demote_s = time.perf_counter() - start
    start = time.perf_counter()
    b.must("POST", f"/v1/groups/{GROUP}/promote")
    promote_s = time.perf_counter() - start
    data = workdir / "random-256"
    data.write_bytes(os.urandom(256 << 20))
    subprocess.run(["qemu-io", "-f", "raw", "-c", f"write -q -s {data} 512M 256M",
                    f"nbd://127.0.0.1:{b.port}/{VOLUMES[0]}"], check=True)
    back = LinkProxy(int(a.url.rsplit(":", 1)[1]), LINK_DELAY_S, LINK_BYTES_PER_S)
    try:
        start = time.perf_counter()
        b.must("PUT", f"/v1/groups/{GROUP}/replication",
               {"target": back.url, "targetToken": a.token, "intervalMs": 1000, "keep": 10})
        got = await_state(b, "replicating")
        ship_s = time.perf_counter() - start
    finally:
        back.close()
    return {"demote_s": demote_s, "promote_s": promote_s, "changed_bytes": 256 << 20,
            "shipped_bytes": got["bytesShipped"], "shipped_per_changed": got["bytesShipped"] / (256 << 20),
            "failback_s": ship_s}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runtime", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="10 s runs")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--idle-replica", action="store_true",
                        help="run the replica under SCHED_IDLE: the guest then pays only for the primary's side,"
                             " as with the replica on another host (its lag is then not meaningful)")
    parser.add_argument("--loads", default=",".join(LOADS), help="which loads, e.g. rand4k")
    parser.add_argument("--no-extras", action="store_true", help="skip the link cut and the failback")
    parser.add_argument("--intervals", default="200,1000,5000", help="intervalMs values, e.g. 1000")
    args = parser.parse_args()
    runtime = 10 if args.quick else args.runtime
    workdir = Path(tempfile.mkdtemp(prefix="cgw-repl-", dir=ROOT / "bench" / "tmp"))
    a = Gateway(workdir / "a", log=open(workdir / "a.log", "w"))
    b = Gateway(workdir / "b", log=open(workdir / "b.log", "w"))
    if args.idle_replica:
        subprocess.run(["chrt", "--idle", "-a", "-p", "0", str(b.proc.pid)], check=True)
    link = LinkProxy(int(b.url.rsplit(":", 1)[1]), LINK_DELAY_S, LINK_BYTES_PER_S)
    report = {"commit": commit_of(ROOT), "runtime_s": runtime, "date": time.strftime("%Y-%m-%d %H:%M"),
              "link": "1 Gbit/s each way, 10 ms one-way delay (user-space proxy)", "loads": {},
              "idle_replica": args.idle_replica}
    try:
        for name in VOLUMES:
            a.must("POST", "/v1/volumes", {"name": name, "size": SIZE})
        a.must("POST", "/v1/groups", {"name": GROUP, "volumes": VOLUMES})
        for load in args.loads.split(","):
            runs = {"off": fio(a, load, runtime, workdir)}
            print(load, "off", runs["off"], flush=True)
            for interval in (int(i) for i in args.intervals.split(",")):
                # the store ages as rows go by (its log fills, compaction falls behind): each interval's
                # rows are compared with a run without replication just before them, not with the first
                runs[f"off-{interval}"] = fio(a, load, runtime, workdir)
                print(load, "off before", interval, runs[f"off-{interval}"], flush=True)
                runs[f"snapshots-{interval}"] = snapshots_run(a, load, interval, runtime, workdir)
                print(load, "snapshots", interval, runs[f"snapshots-{interval}"], flush=True)
                runs[str(interval)] = replicated_run(a, b, link, load, interval, runtime, workdir)
                print(load, interval, runs[str(interval)], flush=True)
            report["loads"][load] = runs
        if not args.no_extras:
            report["cut"] = replicated_run(a, b, link, "rand4k", 1000, max(runtime, 30), workdir, cut_at=5)
            print("cut", report["cut"], flush=True)
            report["failback"] = failback(a, b, link, workdir)
            print("failback", report["failback"], flush=True)
    finally:
        link.close()
        a.stop()
        b.stop()
        shutil.rmtree(workdir, ignore_errors=True)  # tens of GiB after a full run
    out = Path(args.out)
    stamp = time.strftime("%Y%m%d-%H%M")
    (out / f"replication-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"replication-{stamp}.md").write_text(markdown(report))
    print(markdown(report))


def markdown(r):
    lines = [f"# Replication benchmark {r['date']} ({r['commit']})", "",
             f"Two gateways on one 2-core machine, group of 2 x {SIZE}, link: {r['link']}; fio {r['runtime_s']} s per"
             " row; one run. Lag sampled at the primary every 100 ms. 'snapshots only': the group snapshotted every"
             " interval (newest 2 kept), nothing shipped: what the epochs alone cost the guest."
             + (" The replica ran under SCHED_IDLE (it gets the CPU only when nothing else wants it): the guest"
                " pays for the primary's side only, as with the replica on another host; the lag is then not"
                " meaningful." if r.get("idle_replica") else ""), "",
             "Each interval's rows run after a run without replication, which 'vs off' compares them with (the"
             " store ages as rows go by).", "",
             "| load | interval | guest MiB/s: off just before | replicated | vs off | snapshots only: vs off |"
             " lag p50 | lag p99 | lag max | epochs | shipped / changed | CPU s primary / replica |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for load, runs in r["loads"].items():
        first = runs["off"]
        lines.append(f"| {load} | off, first row | {first['mib_s']:.1f} ({first['iops']:.0f} IOPS) | | | | | | | | | |")
        for key, run in runs.items():
            if not key.isdigit():
                continue
            off = runs.get(f"off-{key}", first)
            snaps = runs.get(f"snapshots-{key}")
            only = "" if snaps is None else f"{snaps['mib_s'] / off['mib_s']:.2f}"
            lines.append(f"| {load} | {run['interval_ms']} ms | {off['mib_s']:.1f} | {run['mib_s']:.1f}"
                         f" ({run['iops']:.0f} IOPS) | {run['mib_s'] / off['mib_s']:.2f} | {only} |"
                         f" {run['lag_p50_ms']:.0f} ms |"
                         f" {run['lag_p99_ms']:.0f} ms | {run['lag_max_ms']:.0f} ms | {run['epochs']} |"
                         f" {run['shipped_per_changed']:.3f}"
                         f" ({run['shipped_bytes'] / 2**20:.0f} / {run['changed_bytes'] / 2**20:.0f} MiB) |"
                         f" {run['cpu_primary_s']:.1f} / {run['cpu_replica_s']:.1f} |")
    if "cut" in r:
        cut = r["cut"]
        lines += ["", f"Link cut for 10 s under rand4k at 1000 ms: lag back under 2 intervals"
                  f" {cut.get('cut_recovery_s') if cut.get('cut_recovery_s') is None else round(cut['cut_recovery_s'], 1)}"
                  f" s after it healed (lag max {cut['lag_max_ms']:.0f} ms).", ""]
    if "failback" in r:
        f = r["failback"]
        lines += [f"Failover and failback: demote {f['demote_s'] * 1000:.0f} ms, promote {f['promote_s'] * 1000:.0f} ms;"
                  f" after 256 MiB of new random data on the new primary, failback shipped"
                  f" {f['shipped_bytes'] / 2**20:.1f} MiB ({f['shipped_per_changed']:.3f} of the change) in"
                  f" {f['failback_s']:.1f} s.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

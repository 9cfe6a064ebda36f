#!/usr/bin/env python3
"""Backup benchmark: export and restore of a 4 GiB volume against qemu-img convert and zstd.

Runs `cgw serve` (through ./cgw) on a fresh data directory in bench/tmp/backup, and in the same
run, on the same disk:

1. builds a raw image of --size (default 4 GiB): the first half random, the third quarter a copy
   of the first quarter (64 KiB-aligned, so whole chunks repeat), the last quarter zeros; copies it
   into a cgw volume with every byte written (nbdcopy --sparse=0: the zeros are written data, the
   export must read and recognise them) and takes snapshot S0;
2. changes 1% of the volume (random 256 KiB writes at 4 KiB-aligned offsets) and takes S1, then
   4% more and takes S2;
3. per run (--runs, default 3; medians reported):
   - peer: `qemu-img convert` of the snapshot's NBD export `disk@S0` to a raw file;
   - peer: `zstd` (level 3, one thread, and -T0) of the raw image;
   - cgw: full export of S0 to a fresh `file://` repository (POST /v1/snapshots/S0/export, job
     polled every 20 ms), then incremental exports S1 from S0 (1%) and S2 from S1 (4%);
   - cgw: restore of S0 from that repository into new volumes (POST /v1/restores);
   - peer: `qemu-img convert` of the raw image into a new cgw volume (what a restore replaces).

Reports throughput of each (volume bytes / wall time), the repository's size against the raw size
and zstd's, and the incremental exports' time and bytes against the full one. Targets (issue 6):
full export >= 0.8x qemu-img convert's throughput, repository <= 0.55x raw, incremental time
proportional to the changed data.

Usage: bench/backup_bench.py [--size GiB] [--runs N] [--out bench/results]
Writes bench/results/backup-DATE.{json,md}.
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbd_servers import Gateway, proc_cpu_seconds, proc_peak_rss_mib, timed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20
GiB = 1 << 30
CHANGE_PIECE = 256 << 10

CHANGE_SCRIPT = """
import nbd, random, sys, os
uri, seed, pieces, size, piece = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
h = nbd.NBD()
h.connect_uri(uri)
rng = random.Random(seed)
for i in range(pieces):
    offset = rng.randrange(0, (size - piece) // 4096) * 4096
    h.pwrite(os.urandom(piece), offset)
h.flush()
h.shutdown()
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def du_bytes(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def make_image(path, size):
    """Half random, a quarter copying the first quarter, a quarter zeros."""
    quarter = size // 4
    rng = random.Random(20261125)
    with open(path, "wb") as f:
        for _ in range(2 * quarter // MiB):
            f.write(rng.randbytes(MiB))
        f.flush()  # the copy below reads the first quarter back through another handle
        with open(path, "rb") as src:
            copied = 0
            while copied < quarter:
                f.write(src.read(MiB))
                copied += MiB
        f.truncate(size)  # the last quarter reads as zeros; nbdcopy --sparse=0 writes them as data
        f.flush()
        os.fsync(f.fileno())


def change(gw, fraction, seed, size):
    pieces = int(size * fraction) // CHANGE_PIECE
    run(["/usr/bin/python3", "-c", CHANGE_SCRIPT, f"nbd://127.0.0.1:{gw.port}/disk", str(seed), str(pieces),
         str(size), str(CHANGE_PIECE)])
    return pieces * CHANGE_PIECE


def snapshot(gw):
    return gw.must("POST", "/v1/snapshots", {"volumes": ["disk"], "timeoutMs": 30000})["id"]


def one_run(gw, work, raw, size, snaps, index):
    r = {}
    uri = f"nbd://127.0.0.1:{gw.port}/disk@{snaps[0]}"
    out = work / "convert.raw"
    r["qemu_img_convert_s"] = timed(["qemu-img", "convert", "-f", "raw", "-O", "raw", uri, str(out)])
    out.unlink()
    r["zstd_s"] = timed(["zstd", "-q", "-f", "-3", "-T1", str(raw), "-o", str(work / "raw.zst")])
    r["zstd_bytes"] = (work / "raw.zst").stat().st_size
    r["zstd_t0_s"] = timed(["zstd", "-q", "-f", "-3", "-T0", str(raw), "-o", str(work / "raw.zst")])
    (work / "raw.zst").unlink()

    repo = work / f"repo-{index}"
    shutil.rmtree(repo, ignore_errors=True)
    target = repo.as_uri()
    cpu0 = proc_cpu_seconds(gw.proc.pid)
    r["export_s"], state = gw.job(f"/v1/snapshots/{snaps[0]}/export", {"target": target})
    r["export_cpu_s"] = proc_cpu_seconds(gw.proc.pid) - cpu0
    r["export_job"] = state
    r["repo_bytes"] = du_bytes(repo)
    r["incr1_s"], r["incr1_job"] = gw.job(f"/v1/snapshots/{snaps[1]}/export",
                                          {"target": target, "incrementalFrom": snaps[0]})
    after1 = du_bytes(repo)
    r["incr1_written"] = after1 - r["repo_bytes"]
    r["incr4_s"], r["incr4_job"] = gw.job(f"/v1/snapshots/{snaps[2]}/export",
                                          {"target": target, "incrementalFrom": snaps[1]})
    r["incr4_written"] = du_bytes(repo) - after1

    cpu0 = proc_cpu_seconds(gw.proc.pid)
    r["restore_s"], r["restore_job"] = gw.job("/v1/restores",
                                              {"source": target, "snapshot": snaps[0], "prefix": f"r{index}-"})
    r["restore_cpu_s"] = proc_cpu_seconds(gw.proc.pid) - cpu0
    if index == 0:
        run(["qemu-img", "compare", "-f", "raw", "-F", "raw", uri, f"nbd://127.0.0.1:{gw.port}/r{index}-disk"])
        r["restore_compared"] = True
    gw.must("POST", "/v1/volumes", {"name": f"peer{index}", "size": size})
    r["qemu_img_restore_s"] = timed(["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", str(raw),
                                     f"nbd://127.0.0.1:{gw.port}/peer{index}"])
    # repositories are deleted at the end: ext4 without a journal scans past recently deleted
    # inodes when it creates files, which would slow the next run's export
    return r


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=float, default=4, help="volume size in GiB (default 4)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = p.parse_args()
    for tool in ("qemu-img", "zstd", "nbdcopy"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (apt-get install qemu-utils zstd libnbd-bin)")
    size = int(args.size * GiB) // MiB * MiB
    work = ROOT / "bench" / "tmp" / "backup"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    raw = work / "image.raw"
    make_image(raw, size)

    gw = Gateway(work / "cgw-data")
    try:
        gw.must("POST", "/v1/volumes", {"name": "disk", "size": size})
        fill_s = timed(["nbdcopy", "--sparse=0", str(raw), f"nbd://127.0.0.1:{gw.port}/disk"])
        snaps = [snapshot(gw)]
        changed = [change(gw, 0.01, 1, size)]
        snaps.append(snapshot(gw))
        changed.append(change(gw, 0.04, 2, size))
        snaps.append(snapshot(gw))
        time.sleep(5)  # let the fill's compactions settle before measuring
        runs = []
        for i in range(args.runs):
            r = one_run(gw, work, raw, size, snaps, i)
            runs.append(r)
            print(f"run {i + 1}: export {size / r['export_s'] / MiB:.0f} MiB/s, qemu-img convert "
                  f"{size / r['qemu_img_convert_s'] / MiB:.0f} MiB/s, restore {size / r['restore_s'] / MiB:.0f} MiB/s, "
                  f"repository {r['repo_bytes'] / size:.3f} of raw", flush=True)
        peak_rss = proc_peak_rss_mib(gw.proc.pid)
    finally:
        gw.stop()

    report = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "commit": run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]).stdout.strip(),
        "nproc": os.cpu_count(), "size_bytes": size, "fill_s": fill_s, "changed_bytes": changed,
        "snapshots": snaps, "peak_rss_mib": peak_rss, "runs": runs,
    }
    stamp = time.strftime("%Y%m%d-%H%M")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"backup-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (out / f"backup-{stamp}.md").write_text(text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)


def markdown(rep):
    size, runs = rep["size_bytes"], rep["runs"]

    def mibs(key):
        return size / med(runs, key) / MiB

    def ratio(cgw_key, peer_key):
        """Median over runs of each run's throughput ratio (the pair measured minutes apart)."""
        return statistics.median(r[peer_key] / r[cgw_key] for r in runs)

    export, convert = mibs("export_s"), mibs("qemu_img_convert_s")
    restore, convert_in = mibs("restore_s"), mibs("qemu_img_restore_s")
    zstd1, zstd0 = mibs("zstd_s"), mibs("zstd_t0_s")
    repo, zbytes = med(runs, "repo_bytes"), med(runs, "zstd_bytes")
    full_s, i1, i4 = med(runs, "export_s"), med(runs, "incr1_s"), med(runs, "incr4_s")
    c1, c4 = rep["changed_bytes"]
    lines = [
        f"# Backup benchmark {rep['date']} (commit {rep['commit']}, {rep['nproc']} cores)",
        "",
        f"Volume {size / GiB:g} GiB: half random, a quarter repeating the first quarter, a quarter zeros "
        f"(written as data). Medians of {len(runs)} runs; a ratio is the median of the runs' own ratios; every "
        f"peer is measured in the same run, on the same disk. "
        f"Reproduce: `python3 bench/backup_bench.py`.",
        "",
        "| what | cgw | peer | peer figure | ratio | target |",
        "|---|---|---|---|---|---|",
        f"| full export, MiB/s of volume | {export:.0f} | qemu-img convert nbd -> raw | {convert:.0f} | "
        f"{ratio('export_s', 'qemu_img_convert_s'):.2f} | >= 0.8 |",
        f"| full export, MiB/s | {export:.0f} | zstd -3 of the raw image (1 thread / all) | {zstd1:.0f} / {zstd0:.0f} | "
        f"{ratio('export_s', 'zstd_s'):.2f} / {ratio('export_s', 'zstd_t0_s'):.2f} | |",
        f"| repository size, MiB | {repo / MiB:.0f} | raw image | {size / MiB:.0f} | {repo / size:.3f} | <= 0.55 |",
        f"| repository size, MiB | {repo / MiB:.0f} | zstd -3 of the raw image | {zbytes / MiB:.0f} | "
        f"{repo / zbytes:.2f} | |",
        f"| restore, MiB/s of volume | {restore:.0f} | qemu-img convert raw -> new cgw volume | {convert_in:.0f} | "
        f"{ratio('restore_s', 'qemu_img_restore_s'):.2f} | |",
        "",
        "| incremental export | changed | time s | time / full | changed / volume | written MiB | written / full repo |",
        "|---|---|---|---|---|---|---|",
        f"| full | {size / MiB:.0f} MiB | {full_s:.2f} | 1 | 1 | {repo / MiB:.1f} | 1 |",
        f"| after 1% | {c1 / MiB:.0f} MiB | {i1:.2f} | {i1 / full_s:.4f} | {c1 / size:.4f} | "
        f"{med(runs, 'incr1_written') / MiB:.1f} | {med(runs, 'incr1_written') / repo:.4f} |",
        f"| after 4% | {c4 / MiB:.0f} MiB | {i4:.2f} | {i4 / full_s:.4f} | {c4 / size:.4f} | "
        f"{med(runs, 'incr4_written') / MiB:.1f} | {med(runs, 'incr4_written') / repo:.4f} |",
        "",
        f"Incremental time 4% / 1%: {i4 / i1:.2f} (changed data ratio {c4 / c1:.2f}). "
        f"Gateway CPU during the full export: {med(runs, 'export_cpu_s'):.1f} s "
        f"({med(runs, 'export_cpu_s') / full_s:.2f} cores); during the restore {med(runs, 'restore_cpu_s'):.1f} s. "
        f"Gateway peak RSS {rep['peak_rss_mib']:.0f} MiB. Fill of the volume with nbdcopy: {rep['fill_s']:.1f} s.",
        "",
        "Per run (s): " + "; ".join(
            f"export {r['export_s']:.2f}, convert {r['qemu_img_convert_s']:.2f}, restore {r['restore_s']:.2f}, "
            f"convert-in {r['qemu_img_restore_s']:.2f}, incr1 {r['incr1_s']:.2f}, incr4 {r['incr4_s']:.2f}"
            for r in runs),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

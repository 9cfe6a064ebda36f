#!/usr/bin/env python3
"""Changed blocks over NBD: an incremental copy through cgw:changed-since:ID against a full copy.

Runs `cgw serve` (through ./cgw) on a fresh data directory in bench/tmp/changed, and in one run:

1. copies --size MiB of random data into a volume (nbdcopy) and takes snapshot S0; a full copy of
   `disk@S0` (nbdcopy) is the backup the increments apply to;
2. for each change (--changes, percent of the volume, in 256 KiB pieces at random 4 KiB-aligned
   offsets, plus as many scattered 4 KiB writes), writes it and takes the next snapshot S;
3. copies `disk@S` incrementally: the copy tool of the tests (changed_blocks.py, libnbd)
   negotiates cgw:changed-since:PREVIOUS, reads only the runs marked changed and writes them into
   the previous copy; and, as the peer, copies `disk@S` whole with nbdcopy;
4. checks the incremental copy is byte-equal to the whole one, and counts the bytes each read
   from the gateway's own counter (cgw_nbd_bytes_total{op="read"}).

Usage: bench/changed_blocks_bench.py [--size MiB] [--changes 1,5,20] [--out bench/results]
Writes bench/results/changed-blocks-DATE.md.
"""
import argparse
import datetime
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbd_servers import Gateway, nbdcopy, random_image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20
PIECE = 256 << 10
COPY_TOOL = ROOT / "tests/src/test/resources/cgw/tests/nbd/changed_blocks.py"

CHANGE_SCRIPT = """
import nbd, random, sys, os
uri, seed, pieces, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
h = nbd.NBD()
h.connect_uri(uri)
rng = random.Random(seed)
changed = set()
for i in range(pieces):
    offset = rng.randrange(0, (size - %d) // 4096) * 4096
    h.pwrite(os.urandom(%d), offset)
    changed.update(range(offset // 4096, (offset + %d) // 4096))
    small = rng.randrange(0, size // 4096) * 4096
    h.pwrite(os.urandom(4096), small)
    changed.add(small // 4096)
h.flush()
h.shutdown()
print(len(changed) * 4096)
""" % (PIECE, PIECE, PIECE)


def read_bytes(gateway):
    request = urllib.request.Request(gateway.url + "/metrics",
                                     headers={"Authorization": "Bearer " + gateway.token})
    with urllib.request.urlopen(request) as response:
        scrape = response.read().decode()
    match = re.search(r'^cgw_nbd_bytes_total\{op="read",volume="disk"\} (\S+)$', scrape, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def snapshot(gateway):
    return gateway.must("POST", "/v1/snapshots", {"volumes": ["disk"]})["id"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=2048, help="volume size, MiB")
    parser.add_argument("--changes", default="1,5,20", help="percent of the volume changed per step")
    parser.add_argument("--out", default=str(ROOT / "bench/results"))
    args = parser.parse_args()
    work = ROOT / "bench/tmp/changed"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    size = args.size * MiB
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    started = datetime.datetime.now()
    gateway = Gateway(work / "data")
    rows = []
    try:
        gateway.must("POST", "/v1/volumes", {"name": "disk", "size": size})
        uri = f"nbd://127.0.0.1:{gateway.port}/disk"
        nbdcopy(str(random_image(ROOT / "bench/tmp/random.img", args.size)), uri)
        previous = snapshot(gateway)
        copy = work / "copy.img"
        nbdcopy(f"{uri}@{previous}", str(copy))
        for step, percent in enumerate(int(p) for p in args.changes.split(",")):
            pieces = max(1, size * percent // 100 // PIECE)
            changed = int(subprocess.run(["/usr/bin/python3", "-c", CHANGE_SCRIPT, uri, str(step), str(pieces),
                                          str(size)], check=True, capture_output=True, text=True).stdout)
            current = snapshot(gateway)
            before = read_bytes(gateway)
            start = time.perf_counter()
            done = subprocess.run(["/usr/bin/python3", str(COPY_TOOL), "copy", f"{uri}@{current}", str(previous),
                                   str(copy)], check=True, capture_output=True, text=True)
            incremental_s = time.perf_counter() - start
            incremental_read = read_bytes(gateway) - before
            report = json.loads(done.stdout)
            whole = work / "whole.img"
            before = read_bytes(gateway)
            whole_s = nbdcopy(f"{uri}@{current}", str(whole))
            whole_read = read_bytes(gateway) - before
            equal = filecmp.cmp(copy, whole, shallow=False)
            os.remove(whole)
            rows.append(dict(percent=percent, changed=changed, extents=report["extents"],
                             incremental_read=incremental_read, tool_read=report["bytesRead"],
                             incremental_s=incremental_s, whole_read=whole_read, whole_s=whole_s, equal=equal))
            print(rows[-1], flush=True)
            previous = current
    finally:
        gateway.stop()
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out) / f"changed-blocks-{started:%Y%m%d-%H%M}.md"
    lines = [f"# Incremental copy through cgw:changed-since ({started:%Y-%m-%d %H:%M}, commit {commit})", "",
             f"`python3 bench/changed_blocks_bench.py --size {args.size} --changes {args.changes}`: a {args.size} MiB "
             "volume of random data, changed by 256 KiB pieces plus as many scattered 4 KiB writes, snapshotted after "
             "each step; the incremental copy (tests/.../changed_blocks.py, libnbd) reads the runs "
             "cgw:changed-since:PREVIOUS marks and patches the previous copy; the peer copies the snapshot whole "
             "with nbdcopy. Bytes read: the gateway's cgw_nbd_bytes_total{op=\"read\"}. One run.", "",
             "| changed | bytes changed (4 KiB blocks) | changed runs | incremental: bytes read | read / changed "
             "| incremental s | whole copy: bytes read | whole copy s | incremental / whole time | byte-equal |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['percent']}% | {r['changed'] / MiB:.1f} MiB | {r['extents']} | "
                     f"{r['incremental_read'] / MiB:.1f} MiB | {r['incremental_read'] / r['changed']:.3f} | "
                     f"{r['incremental_s']:.2f} | {r['whole_read'] / MiB:.0f} MiB | {r['whole_s']:.2f} | "
                     f"{r['incremental_s'] / r['whole_s']:.2f} | {'yes' if r['equal'] else '**no**'} |")
    out.write_text("\n".join(lines) + "\n")
    print(out)
    if not all(r["equal"] for r in rows):
        sys.exit("an incremental copy differs from the whole copy")


if __name__ == "__main__":
    main()

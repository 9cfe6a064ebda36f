#!/usr/bin/python3
"""Dependent write chains over NBD, and the check that snapshots hold a prefix of each chain.

Usage:
  dependent_writes.py write PORT VOLUMES WRITERS
      Each writer issues writes n = 0, 1, 2, ... ; write n goes to volume n % len(VOLUMES), and is
      issued only after write n - 1 was acknowledged. Each writer has two connections per volume
      and hops between them (on its every third step per volume), so a chain also crosses
      connections. Runs until stdin closes, then prints {"writers": [last acknowledged n, ...]}.
  dependent_writes.py verify PORT VOLUMES WRITERS FINAL SNAPSHOT_IDS FULL_EVERY
      For each snapshot (VOLUME@ID exports; an ID1/ID2/... item names one snapshot per volume, in
      the order of VOLUMES), finds each chain's prefix and reports every write
      present after a missing one. Prints {"checked": N, "violations": [...], "prefixes": ...}.

Record of write n of writer w: 512 bytes at (w * SLOTS + n // V) * 512 of volume n % V, starting
with b"CGWR", w and n (little-endian u32 each); never overwritten, so a record once in a snapshot
stays in every later one, and a zero record is a write that did not happen.
"""
import json
import struct
import sys
import threading

import nbd

RECORD = 512
SLOTS = 65536  # records per writer per volume
HEADER = struct.Struct("<4sII")


def record(w, n):
    return HEADER.pack(b"CGWR", w, n) + bytes([n % 251 + 1]) * (RECORD - HEADER.size)


def place(w, n, volumes):
    return n % volumes, (w * SLOTS + n // volumes) * RECORD


def connect(port, export):
    h = nbd.NBD()
    h.connect_uri("nbd://127.0.0.1:%d/%s" % (port, export))
    return h


def write(port, names, writers):
    stop = threading.Event()
    last = [-1] * writers
    errors = []

    def run(w):
        try:
            handles = [[connect(port, name), connect(port, name)] for name in names]
            n = 0
            while not stop.is_set() and n // len(names) < SLOTS:
                v, offset = place(w, n, len(names))
                handles[v][(n // len(names) // 3) % 2].pwrite(record(w, n), offset)
                last[w] = n
                n += 1
            for pair in handles:
                for h in pair:
                    h.shutdown()
        except Exception as e:  # reported, never swallowed: the test fails on it
            errors.append("writer %d: %r" % (w, e))
            stop.set()

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    sys.stdin.read()
    stop.set()
    for t in threads:
        t.join()
    print(json.dumps({"writers": last, "errors": errors}))


def present(data, at, w, n):
    """Whether the record of (w, n) is at index `at` of `data`; raises on a record that is torn or misplaced."""
    chunk = data[at * RECORD:(at + 1) * RECORD]
    if chunk == bytes(RECORD):
        return False
    if chunk != record(w, n):
        raise ValueError("torn or misplaced record where writer %d write %d belongs: %r" % (w, n, chunk[:16]))
    return True


def read_range(handles, w, start, end):
    """The records of writer w for writes [start, end), as {n: bytes-offset lookup}: one read per volume."""
    V = len(handles)
    reads = []
    for v in range(V):
        first = start + (v - start) % V  # first write >= start that goes to volume v
        count = max(0, (end - first + V - 1) // V)
        k0 = first // V
        reads.append((k0, handles[v].pread(count * RECORD, (w * SLOTS + k0) * RECORD) if count else b""))
    return reads


def verify(port, names, writers, final, snapshot_ids, full_every):
    """Checks each snapshot from the previous snapshot's prefix on, in chunks, until LOOKAHEAD writes
    past the first missing one (or the writer's last write); every FULL_EVERY-th snapshot from write 0."""
    V = len(names)
    chunk = 128 * V
    lookahead = 64 * V
    violations = []
    prefix = [0] * writers  # writes 0..prefix-1 were in the previous snapshot
    prefixes = []
    for index, sid in enumerate(snapshot_ids):
        full = full_every > 0 and index % full_every == 0
        ids = str(sid).split("/")  # one snapshot for all volumes, or one per volume (ID1/ID2/...)
        handles = [connect(port, "%s@%s" % (name, ids[v % len(ids)])) for v, name in enumerate(names)]
        current = []
        for w in range(writers):
            last = final[w] + 1
            n = 0 if full else prefix[w]
            p = n
            missing = None
            while n < last and (missing is None or n < missing + lookahead):
                end = min(last, n + chunk)
                reads = read_range(handles, w, n, end)
                for m in range(n, end):
                    k0, data = reads[m % V]
                    if present(data, m // V - k0, w, m):
                        if missing is not None:
                            violations.append({"snapshot": sid, "writer": w, "present": m, "missing": missing})
                            break
                        p = m + 1
                    elif missing is None:
                        missing = m
                n = end
            current.append(p)
        for h in handles:
            h.shutdown()
        for w in range(writers):
            if current[w] < prefix[w]:
                violations.append({"snapshot": sid, "writer": w, "prefix": current[w], "earlier": prefix[w]})
        prefix = current
        prefixes.append(current)
    print(json.dumps({"checked": len(snapshot_ids), "violations": violations, "prefixes": prefixes}))


def main():
    mode, port, names, writers = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4])
    if mode == "write":
        write(port, names, writers)
    else:
        final = [int(x) for x in sys.argv[5].split(",")]
        ids = sys.argv[6].split(",")
        verify(port, names, writers, final, ids, int(sys.argv[7]))


if __name__ == "__main__":
    main()

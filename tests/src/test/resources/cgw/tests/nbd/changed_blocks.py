"""What a backup tool does with cgw's changed-block meta context, through libnbd.

  changed_blocks.py map URI SNAPSHOT
      negotiates base:allocation and cgw:changed-since:SNAPSHOT at once and prints, as JSON, each
      context's runs {"start", "length", "flags"} over the whole export.
  changed_blocks.py copy URI SNAPSHOT BASE_IMAGE
      an incremental copy: BASE_IMAGE holds the export as it was at SNAPSHOT; reads only the runs
      the context marks changed and writes them into BASE_IMAGE in place; prints
      {"bytesRead", "extents"} as JSON.

Runs with Debian's python3 (python3-libnbd).
"""
import json
import sys

import nbd

CHANGED = 1
MAX_STATUS = 1 << 30
MAX_READ = 32 << 20


def connect(uri, snapshot):
    h = nbd.NBD()
    changes = "cgw:changed-since:" + snapshot
    h.add_meta_context("base:allocation")
    h.add_meta_context(changes)
    h.connect_uri(uri)
    for context in ("base:allocation", changes):
        if not h.can_meta_context(context):
            sys.exit("server did not select " + context)
    return h, changes


def runs(h, contexts):
    """Each context's runs over the whole export, asked with one BLOCK_STATUS for all of them."""
    size = h.get_size()
    found = {context: [] for context in contexts}
    offset = 0
    while offset < size:
        answered = {}

        def callback(context, start, entries, err):
            answered[context] = (start, entries)
            return 0

        h.block_status(min(size - offset, MAX_STATUS), offset, callback)
        if set(answered) != set(contexts):
            sys.exit("block status at %d answered %s, not %s" % (offset, sorted(answered), sorted(contexts)))
        # the contexts may answer for different lengths: go on from the shortest
        step = min(sum(entries[0::2]) for _, entries in answered.values())
        for context, (start, entries) in answered.items():
            at = offset
            for length, flags in zip(entries[0::2], entries[1::2]):
                length = min(length, offset + step - at)
                if length <= 0:
                    break
                out = found[context]
                if out and out[-1]["flags"] == flags and out[-1]["start"] + out[-1]["length"] == at:
                    out[-1]["length"] += length
                else:
                    out.append({"start": at, "length": length, "flags": flags})
                at += length
        offset += step
    return found


def main():
    command, uri, snapshot = sys.argv[1:4]
    h, changes = connect(uri, snapshot)
    found = runs(h, ["base:allocation", changes])
    if command == "map":
        print(json.dumps(found))
        return
    bytes_read = 0
    extents = 0
    with open(sys.argv[4], "r+b") as image:
        for run in found[changes]:
            if not run["flags"] & CHANGED:
                continue
            extents += 1
            at, end = run["start"], run["start"] + run["length"]
            while at < end:
                length = min(end - at, MAX_READ)
                data = h.pread(length, at)
                bytes_read += length
                image.seek(at)
                image.write(data)
                at += length
    h.shutdown()
    print(json.dumps({"bytesRead": bytes_read, "extents": extents}))


main()

"""The host's memory as every server of a benchmark meets it.

On a VM whose balloon device reports free pages to the host (virtio-balloon free page reporting,
the kernel's page_reporting module), a page the guest freed a second ago goes back to the host,
and the next write into it costs a host fault that the guest charges as system time to the
writer. On the machines here, 2 GiB written into a new file took 3.8-6.0 s of system time after
the page cache was dropped and 0.35 s right after another 2 GiB file was deleted; with a wait of
1-5 s between the delete and the write, 1.5-2.6 s. A server's first write then measures who ran
before it and how long it took to start (a JVM a second or two, a C server milliseconds), not the
server: bench/results/nbd-full-20261207-1233.md moved nbdkit's own first write from 407 to
2,926 MiB/s with the server before it.

kept() turns the reporting off for the run (the module's order above the largest block the
buddy allocator has, so that no free block qualifies), touches the free memory once so that the
host backs it, and puts the setting back at the end. Nothing else of the machine changes: what a
server writes still goes through the same page cache to the same disk. Where the module is absent
(bare metal) or not writable (not root) it changes nothing and says so.
"""
import contextlib
import mmap
import sys
import time
from pathlib import Path

ORDER = Path("/sys/module/page_reporting/parameters/page_reporting_order")
HEADROOM = 2 << 30
CHUNK = 64 << 20


def largest_order():
    """The largest order of a free block (columns of /proc/buddyinfo, order 0 first)."""
    line = Path("/proc/buddyinfo").read_text().splitlines()[0]
    return len(line.split()) - 4 - 1  # "Node 0, zone DMA" then one count per order


def touch_free_memory():
    """Writes all but HEADROOM of the available memory once, then frees it: (GiB, seconds)."""
    avail = next(int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                 if line.startswith("MemAvailable:"))
    size = max(0, avail - HEADROOM) // CHUNK * CHUNK
    start = time.time()
    if size:
        area = mmap.mmap(-1, size)
        ones = b"\1" * CHUNK
        for offset in range(0, size, CHUNK):
            area[offset:offset + CHUNK] = ones
        area.close()
    return size / (1 << 30), time.time() - start


@contextlib.contextmanager
def kept():
    """Free page reporting off for the duration, free memory touched once: yields a dict that
    says what was done (for the report)."""
    if not ORDER.exists():
        yield {"page_reporting": "absent (no balloon page reporting): left as it is"}
        return
    before = ORDER.read_text().strip()
    off = str(largest_order() + 1)
    try:
        ORDER.write_text(off)
    except OSError as e:
        print(f"host memory: cannot turn free page reporting off ({e}); first writes will depend on "
              "what ran before", file=sys.stderr)
        yield {"page_reporting": f"left on (order {before}): {e}"}
        return
    try:
        gib, seconds = touch_free_memory()
        print(f"host memory: free page reporting off (order {before} -> {off}), {gib:.0f} GiB touched in "
              f"{seconds:.0f} s", file=sys.stderr)
        yield {"page_reporting": f"off during the run (order {before} -> {off}), put back after",
               "touched_gib": round(gib, 1), "touch_s": round(seconds, 1)}
    finally:
        ORDER.write_text(before)


def describe(state):
    """One sentence for a report's header."""
    text = f"Host memory: free page reporting {state['page_reporting']}"
    if "touched_gib" in state:
        text += f"; {state['touched_gib']:.0f} GiB of free memory touched once before the first server"
    return text + " (bench/host_memory.py says why)."

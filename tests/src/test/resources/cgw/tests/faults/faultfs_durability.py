"""What a power cut leaves of each file: faultfs's durability model, the one LazyFS has.

A disk whose cache loses, on a power cut, every byte written to a file since that file's last
successful fsync or fdatasync.
  - Per file it keeps, from the first change after its last sync, the size at that sync and the
    pre-image of each 4 KiB page changed since (write, or truncate inside the synced size).
  - A successful fsync/fdatasync (or a write through an O_SYNC/O_DSYNC descriptor) makes the
    file's current content durable: the pre-images are dropped.
  - A failed fsync behaves as Linux's page cache does: it reports the error once and marks the
    pages clean. Those pages stay readable, but they never reached the disk: they are lost on a
    power cut even after a later fsync succeeded, unless written again before that later fsync.
    The size stays the one synced before the failure.
  - The cut: for every file, its unsynced pages get their pre-images back, it is truncated (or
    zero-extended) to its synced size, and the pages of failed syncs get the durable bytes they
    had before the failure (zeros past the size synced then). Then every record is cleared: what
    the backing directory holds is what survived, and is durable from then on.
  - Files present before the mount are taken as durable as they are.

What it does not model:
  - Metadata: create, mkdir, rename, link, unlink, rmdir, chmod and utimes are durable at once
    (LazyFS does the same); a directory's fsync can be made to fail, but a cut never undoes a
    directory entry.
  - The backing file system: it is never synced, since it never loses power.
  - Torn pages (a cut keeps a page whole, old or new) and reordered writes inside one sync interval.

The functions take a node of faultfs.py: its `lock` guards its `durability`, a Durability while
the file has changes a cut would undo, else None. They touch the backing file through a
descriptor and know nothing of FUSE: their errors are OSError.
"""
import os

PAGE_BYTES = 4096


class Durability:
    """What a power cut would leave of one file. Guarded by its node's lock."""

    def __init__(self, synced_size):
        self.synced_size = synced_size
        # page -> its bytes at the last sync (up to synced_size; b"" past it), or None when the
        # page is in `lost` (its durable bytes are there), for pages changed since the last sync
        self.dirty = {}
        # page -> its durable bytes before a failed sync, for pages that sync failed to write
        self.lost = {}

    def capture(self, fd, start, end, past_synced_size):
        """Records the pre-images of the pages in [start, end) before they change."""
        if end <= start:
            return
        if not past_synced_size:
            end = min(end, self.synced_size)
        for page in range(start // PAGE_BYTES, (end - 1) // PAGE_BYTES + 1):
            if page in self.dirty:
                continue
            if page in self.lost:
                self.dirty[page] = None
                continue
            offset = page * PAGE_BYTES
            length = max(0, min(PAGE_BYTES, self.synced_size - offset))
            self.dirty[page] = os.pread(fd, length, offset) if length else b""

    def synced(self, size):
        for page, image in self.dirty.items():
            if image is None:
                del self.lost[page]  # written again since the failure, and now synced whole
        self.dirty.clear()
        self.synced_size = size

    def sync_failed(self):
        for page, image in self.dirty.items():
            if image is not None:
                self.lost[page] = image
        self.dirty.clear()

    def settled(self):
        return not self.dirty and not self.lost

    def cut(self, fd):
        """Puts back what survives; returns (pages restored, pages lost, whether the size changed)."""
        resized = os.fstat(fd).st_size != self.synced_size
        os.ftruncate(fd, self.synced_size)
        restored = 0
        for page, image in self.dirty.items():
            if image:
                os.pwrite(fd, image, page * PAGE_BYTES)
                restored += 1
        lost = 0
        for page, image in self.lost.items():
            offset = page * PAGE_BYTES
            length = min(PAGE_BYTES, self.synced_size - offset)
            if length > 0:
                os.pwrite(fd, image[:length].ljust(length, b"\0"), offset)
                lost += 1
        return restored, lost, resized


def _record_of(node, fd):
    """The node's record, begun at the file's current size. Caller holds node.lock."""
    if node.durability is None:
        node.durability = Durability(os.fstat(fd).st_size)
    return node.durability


def write(node, fd, buf, off):
    """pwrite, with the pages it changes recorded; returns the bytes written."""
    with node.lock:
        _record_of(node, fd).capture(fd, off, off + len(buf), past_synced_size=True)
        return os.pwrite(fd, buf, off)


def resize(node, fd, size):
    """ftruncate, with the pages it changes recorded."""
    with node.lock:
        record = _record_of(node, fd)
        current = os.fstat(fd).st_size
        record.capture(fd, min(current, size), max(current, size), past_synced_size=False)
        os.ftruncate(fd, size)


def sync(node, fd, names, faults):
    """An fsync/fdatasync (fd None: of a directory): a fault armed for one of `names` fails it,
    otherwise the content is durable."""
    with node.lock:
        failure = faults.fire("sync", names)
        record = node.durability
        if failure is not None:
            if record is not None:
                record.sync_failed()
            faults.count("syncs_failed")
            raise OSError(failure, os.strerror(failure))
        if record is not None and fd is not None:
            record.synced(os.fstat(fd).st_size)
            if record.settled():
                node.durability = None
        faults.count("syncs_ok")


def cut(files):
    """The power cut over `files`, (node, backing path) pairs; returns what it did, by the names
    the control channel replies with."""
    summary = {"files": 0, "pages_restored": 0, "pages_lost": 0, "files_resized": 0}
    for node, path in files:
        with node.lock:
            record = node.durability
            if record is None:
                continue
            fd = os.open(path, os.O_RDWR)
            try:
                restored, lost, resized = record.cut(fd)
            finally:
                os.close(fd)
            node.durability = None
        summary["files"] += 1
        summary["pages_restored"] += restored
        summary["pages_lost"] += lost
        summary["files_resized"] += int(resized)
    return summary


def persist(files):
    """Makes the current content of `files`, (node, backing path) pairs, durable as a sync would,
    for a writeback the kernel did on its own (e.g. after sync_file_range); returns
    {"files": how many had unsynced pages}."""
    persisted = 0
    for node, path in files:
        with node.lock:
            record = node.durability
            if record is None:
                continue
            record.synced(os.stat(path).st_size)
            if record.settled():
                node.durability = None
        persisted += 1
    return {"files": persisted}

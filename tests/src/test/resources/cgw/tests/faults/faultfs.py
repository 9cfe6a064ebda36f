#!/usr/bin/python3
"""A pass-through FUSE file system over a backing directory that can fail syncs and writes and lose power.

Usage: faultfs.py BACKING MOUNTPOINT CONTROL_SOCKET

Runs in the foreground. Mounts BACKING on MOUNTPOINT, listens on the Unix socket CONTROL_SOCKET,
then prints "faultfs: ready" on stdout. SIGTERM or SIGINT unmounts and exits; so does an unmount
from outside (fusermount3 -u). Needs Debian's python3-pyfuse3 (libfuse3) and /dev/fuse, and its
two sibling modules beside it:
  - faultfs_durability.py: what a power cut keeps of each file (the model, like LazyFS's);
  - faultfs_control.py: the faults, and the control socket's commands that arm them and cut.
This module serves the FUSE operations and hands each write, truncate and sync to the first.
Every file is opened with direct_io and no entry or attribute is cached (timeouts 0): the kernel
keeps nothing, so the file system sees each write as it happens and a cut shows at once.

What it does not model, beyond what faultfs_durability.py lists:
  - Latency, and failures of reads.
  - mmap: the kernel refuses shared mappings of direct_io files (ENODEV); private ones work.
  - fallocate: pyfuse3 has no handler for it, so the kernel answers EOPNOTSUPP. Nor lseek with
    SEEK_DATA/SEEK_HOLE (the kernel's generic answer), copy_file_range (the kernel copies through
    read and write), xattrs and file locks (the kernel keeps locks locally).
  - sync_file_range and syncfs: they never reach a FUSE file system; only fsync/fdatasync count.
    O_DIRECT opens work and change nothing (every write reaches the file system anyway).

Threads: pyfuse3 runs each request as a trio task, and each task runs its system calls in a worker
thread, so a slow request blocks nothing else. The control socket has its own threads; a child
process keeps asking the mount something (see heartbeat()).
"""
import ctypes
import errno
import functools
import fnmatch
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import traceback

import faultfs_durability
from faultfs_control import Faults, control_server

try:
    import pyfuse3
    import trio
except ImportError as e:
    sys.exit("faultfs: %s (Debian package python3-pyfuse3; ./test.sh installs it)" % e)

# flags of the caller's open that must not reach the backing descriptor: the kernel gives each
# write its offset (O_APPEND would move it), syncs are bookkeeping, truncation is tracked
UNTRACKED_FLAGS = os.O_APPEND | os.O_DIRECT | os.O_TRUNC | os.O_SYNC | os.O_DSYNC | os.O_CREAT | os.O_EXCL
SYNC_FLAGS = os.O_SYNC | os.O_DSYNC


class Node:
    """A file or directory the kernel knows by our inode number (not the backing one, which a new
    file may reuse). Paths and fds are guarded by the tree lock, durability by `lock`."""

    __slots__ = ("inode", "key", "paths", "fds", "lock", "durability")

    def __init__(self, inode, key):
        self.inode = inode
        self.key = key
        self.paths = set()
        self.fds = set()
        self.lock = threading.Lock()
        self.durability = None


class Handle:
    __slots__ = ("fd", "node", "sync_writes")

    def __init__(self, fd, node, sync_writes):
        self.fd = fd
        self.node = node
        self.sync_writes = sync_writes


class DirHandle:
    __slots__ = ("node", "entries")

    def __init__(self, node):
        self.node = node
        self.entries = []


def threaded(method):
    """Runs a handler's body in a worker thread, turning OSError into the errno FUSE replies with."""

    def guarded(self, *args):
        try:
            return method(self, *args)
        except pyfuse3.FUSEError:
            raise
        except OSError as e:
            raise pyfuse3.FUSEError(e.errno or errno.EIO) from None
        except Exception:
            traceback.print_exc()
            raise pyfuse3.FUSEError(errno.EIO) from None

    @functools.wraps(method)
    async def run(self, *args):
        return await trio.to_thread.run_sync(guarded, self, *args)

    return run


_libc = ctypes.CDLL(None, use_errno=True)


def renameat2(old, new, flags):
    if flags == 0:
        os.rename(old, new)
        return
    AT_FDCWD = -100
    if _libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), old)


class FaultFs(pyfuse3.Operations):
    """The file system. The tree lock guards the inode table, each node's paths and fds, and the
    adding and removing of handles (a request finds its handle without it: a handle is used only
    between its open and its release). Each node's lock guards its durability and is never taken
    with the tree lock held; a cut takes them one after the other."""

    enable_writeback_cache = False

    def __init__(self, backing, faults):
        super().__init__()
        self.backing = os.path.realpath(backing)
        self.faults = faults
        self.tree = threading.Lock()
        self.nodes = {}
        self.by_key = {}
        self.next_inode = pyfuse3.ROOT_INODE + 1
        self.handles = {}
        self.next_handle = 1
        st = os.lstat(self.backing)
        root = Node(pyfuse3.ROOT_INODE, (st.st_dev, st.st_ino))
        root.paths.add("")
        self.nodes[root.inode] = root
        self.by_key[root.key] = root

    # ------------------------------------------------------------------ tables

    def full(self, rel):
        return os.path.join(self.backing, rel) if rel else self.backing

    def node(self, inode):
        with self.tree:
            node = self.nodes.get(inode)
        if node is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return node

    def rel_of(self, inode):
        with self.tree:
            node = self.nodes.get(inode)
            if node is None or not node.paths:
                raise pyfuse3.FUSEError(errno.ENOENT)
            return min(node.paths)

    def child_rel(self, parent_inode, name):
        parent = self.rel_of(parent_inode)
        name = os.fsdecode(name)
        return os.path.join(parent, name) if parent else name

    def register(self, rel, st):
        """The node of the backing file `st` found at `rel`, made when new."""
        key = (st.st_dev, st.st_ino)
        with self.tree:
            node = self.by_key.get(key)
            if node is None:
                node = Node(self.next_inode, key)
                self.next_inode += 1
                self.nodes[node.inode] = node
                self.by_key[key] = node
            node.paths.add(rel)
            return node

    def forget_path(self, rel, key):
        """`rel` no longer names the file `key`; a file left without a name is gone."""
        node = self.by_key.get(key)
        if node is None:
            return
        node.paths.discard(rel)
        if not node.paths:
            del self.by_key[key]

    def move_paths(self, old, new, exchange):
        """Renames `old` to `new` in every path (and `new` to `old` when exchanging)."""

        def moved(path):
            for a, b in ((old, new), (new, old)) if exchange else ((old, new),):
                if path == a or path.startswith(a + "/"):
                    return b + path[len(a):]
            return path

        for node in self.nodes.values():
            if node.paths:
                node.paths = {moved(path) for path in node.paths}

    def match_names(self, node):
        with self.tree:
            return [path or "." for path in node.paths] or ["(deleted)"]

    def attrs(self, node, st):
        entry = pyfuse3.EntryAttributes()
        entry.st_ino = node.inode
        entry.generation = 0
        entry.entry_timeout = 0
        entry.attr_timeout = 0
        entry.st_mode = st.st_mode
        entry.st_nlink = st.st_nlink
        entry.st_uid = st.st_uid
        entry.st_gid = st.st_gid
        entry.st_rdev = st.st_rdev
        entry.st_size = st.st_size
        entry.st_blksize = st.st_blksize
        entry.st_blocks = st.st_blocks
        entry.st_atime_ns = st.st_atime_ns
        entry.st_mtime_ns = st.st_mtime_ns
        entry.st_ctime_ns = st.st_ctime_ns
        return entry

    def stat_node(self, node):
        with self.tree:
            rel = min(node.paths) if node.paths else None
            fd = next(iter(node.fds)) if node.fds else None
        if rel is not None:
            try:
                return os.lstat(self.full(rel))
            except FileNotFoundError:
                if fd is None:
                    raise
        if fd is None:
            raise pyfuse3.FUSEError(errno.ENOENT)
        return os.fstat(fd)  # unlinked, still open

    def own(self, path, ctx, follow=True):
        if os.geteuid() == 0 and (ctx.uid, ctx.gid) != (0, 0):
            os.chown(path, ctx.uid, ctx.gid, follow_symlinks=follow)

    def new_entry(self, rel, ctx, follow=True):
        path = self.full(rel)
        self.own(path, ctx, follow)
        st = os.lstat(path)
        return self.attrs(self.register(rel, st), st)

    # ------------------------------------------------------------------ power cut

    def cut(self):
        """The power cut (faultfs_durability.cut) over every file that still has a name."""
        with self.tree:
            files = [(node, self.full(min(node.paths))) for node in self.nodes.values() if node.paths]
        summary = faultfs_durability.cut(files)
        self.faults.count("cuts")
        return summary

    def persist(self, glob):
        """The kernel's writeback of files matching `glob`: what they hold now survives a cut,
        without a sync (faultfs_durability.persist)."""
        with self.tree:
            files = [(node, self.full(min(node.paths))) for node in self.nodes.values()
                     if node.paths and any(fnmatch.fnmatchcase(path, glob) for path in node.paths)]
        return faultfs_durability.persist(files)

    # ------------------------------------------------------------------ entries

    @threaded
    def lookup(self, parent_inode, name, ctx):
        if name == b".":
            node = self.node(parent_inode)
            return self.attrs(node, self.stat_node(node))
        if name == b"..":
            parent = os.path.dirname(self.rel_of(parent_inode))
            st = os.lstat(self.full(parent))
            return self.attrs(self.register(parent, st), st)
        rel = self.child_rel(parent_inode, name)
        st = os.lstat(self.full(rel))
        return self.attrs(self.register(rel, st), st)

    async def forget(self, inode_list):
        pass  # nodes are kept: a node's record must outlive the kernel's reference, until a cut

    @threaded
    def getattr(self, inode, ctx):
        node = self.node(inode)
        return self.attrs(node, self.stat_node(node))

    @threaded
    def setattr(self, inode, attr, fields, fh, ctx):
        node = self.node(inode)
        handle = self.handles.get(fh) if fh is not None else None
        path = None if handle is not None else self.full(self.rel_of(inode))
        if fields.update_size:
            if handle is not None:
                faultfs_durability.resize(node, handle.fd, attr.st_size)
            else:
                fd = os.open(path, os.O_RDWR)
                try:
                    faultfs_durability.resize(node, fd, attr.st_size)
                finally:
                    os.close(fd)
        target = handle.fd if handle is not None else path
        if fields.update_mode:
            os.chmod(target, stat.S_IMODE(attr.st_mode))
        if fields.update_uid or fields.update_gid:
            os.chown(target, attr.st_uid if fields.update_uid else -1, attr.st_gid if fields.update_gid else -1)
        if fields.update_atime or fields.update_mtime:
            st = os.fstat(target) if handle is not None else os.lstat(target)
            os.utime(target, ns=(attr.st_atime_ns if fields.update_atime else st.st_atime_ns,
                                 attr.st_mtime_ns if fields.update_mtime else st.st_mtime_ns))
        return self.attrs(node, self.stat_node(node))

    @threaded
    def readlink(self, inode, ctx):
        return os.fsencode(os.readlink(self.full(self.rel_of(inode))))

    @threaded
    def mknod(self, parent_inode, name, mode, rdev, ctx):
        rel = self.child_rel(parent_inode, name)
        os.mknod(self.full(rel), mode, rdev)
        return self.new_entry(rel, ctx)

    @threaded
    def mkdir(self, parent_inode, name, mode, ctx):
        rel = self.child_rel(parent_inode, name)
        os.mkdir(self.full(rel), mode)
        return self.new_entry(rel, ctx)

    @threaded
    def symlink(self, parent_inode, name, target, ctx):
        rel = self.child_rel(parent_inode, name)
        os.symlink(os.fsdecode(target), self.full(rel))
        return self.new_entry(rel, ctx, follow=False)

    @threaded
    def link(self, inode, new_parent_inode, new_name, ctx):
        rel = self.child_rel(new_parent_inode, new_name)
        os.link(self.full(self.rel_of(inode)), self.full(rel), follow_symlinks=False)
        st = os.lstat(self.full(rel))
        return self.attrs(self.register(rel, st), st)

    @threaded
    def unlink(self, parent_inode, name, ctx):
        self.remove(parent_inode, name, os.unlink)

    @threaded
    def rmdir(self, parent_inode, name, ctx):
        self.remove(parent_inode, name, os.rmdir)

    def remove(self, parent_inode, name, remove):
        rel = self.child_rel(parent_inode, name)
        with self.tree:
            st = os.lstat(self.full(rel))
            remove(self.full(rel))
            self.forget_path(rel, (st.st_dev, st.st_ino))

    @threaded
    def rename(self, parent_inode_old, name_old, parent_inode_new, name_new, flags, ctx):
        old = self.child_rel(parent_inode_old, name_old)
        new = self.child_rel(parent_inode_new, name_new)
        exchange = bool(flags & pyfuse3.RENAME_EXCHANGE)
        with self.tree:
            try:
                replaced = os.lstat(self.full(new))
            except FileNotFoundError:
                replaced = None
            renameat2(self.full(old), self.full(new), flags)
            if replaced is not None and not exchange:
                self.forget_path(new, (replaced.st_dev, replaced.st_ino))
            self.move_paths(old, new, exchange)

    @threaded
    def statfs(self, ctx):
        st = os.statvfs(self.backing)
        data = pyfuse3.StatvfsData()
        for name in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree", "f_favail",
                     "f_namemax"):
            setattr(data, name, getattr(st, name))
        return data

    @threaded
    def access(self, inode, mode, ctx):
        return True  # default_permissions: the kernel checks the mode bits

    # ------------------------------------------------------------------ files

    def add_handle(self, node, fd, flags):
        with self.tree:
            fh = self.next_handle
            self.next_handle += 1
            self.handles[fh] = Handle(fd, node, bool(flags & SYNC_FLAGS))
            node.fds.add(fd)
        return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False)

    def open_backing(self, path, flags, mode=0o666):
        """A read-write descriptor (pre-images are read through it) without the untracked flags."""
        backing_flags = (flags & ~UNTRACKED_FLAGS & ~os.O_ACCMODE) | os.O_RDWR
        if flags & os.O_CREAT:
            backing_flags |= os.O_CREAT | (flags & os.O_EXCL)
        return os.open(path, backing_flags, mode)

    @threaded
    def open(self, inode, flags, ctx):
        node = self.node(inode)
        fd = self.open_backing(self.full(self.rel_of(inode)), flags)
        try:
            if flags & os.O_TRUNC:
                faultfs_durability.resize(node, fd, 0)
            return self.add_handle(node, fd, flags)
        except BaseException:
            os.close(fd)
            raise

    @threaded
    def create(self, parent_inode, name, mode, flags, ctx):
        rel = self.child_rel(parent_inode, name)
        fd = self.open_backing(self.full(rel), flags | os.O_CREAT, mode)
        try:
            entry = self.new_entry(rel, ctx)
            node = self.node(entry.st_ino)
            if flags & os.O_TRUNC:
                faultfs_durability.resize(node, fd, 0)
            return self.add_handle(node, fd, flags), entry
        except BaseException:
            os.close(fd)
            raise

    @threaded
    def read(self, fh, off, size):
        return os.pread(self.handles[fh].fd, size, off)

    @threaded
    def write(self, fh, off, buf):
        handle = self.handles[fh]
        node = handle.node
        names = self.match_names(node)
        failure = self.faults.fire("write", names)
        if failure is not None:
            self.faults.count("writes_failed")
            raise pyfuse3.FUSEError(failure)
        written = faultfs_durability.write(node, handle.fd, buf, off)
        self.faults.count("writes")
        if handle.sync_writes:
            faultfs_durability.sync(node, handle.fd, names, self.faults)
        return written

    async def flush(self, fh):
        pass  # close(2) is no sync

    @threaded
    def fsync(self, fh, datasync):
        handle = self.handles[fh]
        faultfs_durability.sync(handle.node, handle.fd, self.match_names(handle.node), self.faults)

    @threaded
    def release(self, fh):
        with self.tree:
            handle = self.handles.pop(fh)
            handle.node.fds.discard(handle.fd)
        os.close(handle.fd)

    # ------------------------------------------------------------------ directories

    @threaded
    def opendir(self, inode, ctx):
        node = self.node(inode)
        with self.tree:
            fh = self.next_handle
            self.next_handle += 1
            self.handles[fh] = DirHandle(node)
        return fh

    def list_dir(self, handle):
        rel = self.rel_of(handle.node.inode)
        entries = []
        with os.scandir(self.full(rel)) as scan:
            for entry in scan:
                child = os.path.join(rel, entry.name) if rel else entry.name
                try:
                    st = os.lstat(self.full(child))
                except FileNotFoundError:
                    continue  # removed while listing
                entries.append((os.fsencode(entry.name), self.attrs(self.register(child, st), st)))
        entries.sort(key=lambda e: e[0])
        handle.entries = entries

    async def readdir(self, fh, start_id, token):
        handle = self.handles[fh]
        if start_id == 0:
            try:
                await trio.to_thread.run_sync(self.list_dir, handle)
            except OSError as e:
                raise pyfuse3.FUSEError(e.errno or errno.EIO) from None
        for index in range(start_id, len(handle.entries)):
            name, attrs = handle.entries[index]
            if not pyfuse3.readdir_reply(token, name, attrs, index + 1):
                break

    @threaded
    def fsyncdir(self, fh, datasync):
        node = self.handles[fh].node
        faultfs_durability.sync(node, None, self.match_names(node), self.faults)

    @threaded
    def releasedir(self, fh):
        with self.tree:
            del self.handles[fh]


# ---------------------------------------------------------------------- main

async def serve():
    """Runs the FUSE loop until an unmount from outside (True) or a signal (False)."""
    unmounted = True
    async with trio.open_nursery() as nursery:

        async def stop_on_signal():
            nonlocal unmounted
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    unmounted = False
                    pyfuse3.terminate()
                    return

        nursery.start_soon(stop_on_signal)
        await pyfuse3.main(min_tasks=4)
        nursery.cancel_scope.cancel()
    return unmounted


def heartbeat(mountpoint, parent):
    """Asks the file system something four times a second, from a process of its own, until
    `parent` (faultfs) is gone. pyfuse3 reads /dev/fuse holding the GIL once the fd polled
    readable; when the process that made the request is killed before the read, the kernel takes
    the request back and the read blocks, with every other thread of faultfs waiting for the GIL:
    a handler's answer that finished in a worker thread waits with it, and a process writing when
    it was killed hangs in request_wait_answer, unkillable, until something else asks the mount.
    A thread of faultfs cannot be that something (it needs the GIL); this process is. A listing,
    which the kernel never answers from its caches."""
    while os.getppid() == parent:
        time.sleep(0.25)
        try:
            os.listdir(mountpoint)
        except OSError:
            pass  # unmounting, or not mounted yet: the next beat tries again


def start_heartbeat(mountpoint):
    return subprocess.Popen([sys.executable, "-B", os.path.abspath(__file__), "--heartbeat", mountpoint,
                             str(os.getpid())], stdin=subprocess.DEVNULL)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--heartbeat":
        heartbeat(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) != 4:
        sys.exit("usage: faultfs.py BACKING MOUNTPOINT CONTROL_SOCKET")
    backing, mountpoint, socket_path = sys.argv[1:]
    if not os.path.isdir(backing):
        sys.exit("faultfs: backing directory %s does not exist" % backing)
    if not os.path.exists("/dev/fuse"):
        sys.exit("faultfs: /dev/fuse is missing (the fuse kernel module is not loaded)")
    fs = FaultFs(backing, Faults())
    server = control_server(fs, socket_path)
    options = set(pyfuse3.default_options)
    options.add("fsname=faultfs")
    options.add("subtype=faultfs")
    try:
        pyfuse3.init(fs, mountpoint, options)
    except BaseException:
        server.server_close()
        os.unlink(socket_path)
        raise
    unmounted = False
    beats = None
    try:
        threading.Thread(target=server.serve_forever, name="control", daemon=True).start()
        beats = start_heartbeat(mountpoint)
        print("faultfs: ready", flush=True)
        unmounted = trio.run(serve)
    finally:
        if beats is not None:
            beats.kill()
            beats.wait()
        server.shutdown()
        server.server_close()
        os.unlink(socket_path)
        pyfuse3.close(unmount=not unmounted)


if __name__ == "__main__":
    main()

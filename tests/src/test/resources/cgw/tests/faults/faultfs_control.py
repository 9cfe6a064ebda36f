"""faultfs's faults and the control channel that arms them and cuts the power.

One command a line, one reply a line ("ok", a JSON object, or "error: ..."). GLOB is an fnmatch
pattern over the path relative to the mount root ("store/values/*", "*.log"; "*" also matches
"/"; the root directory is ".").
  fail-sync GLOB [COUNT]         the next COUNT (default 1, 0: every) fsync/fdatasync of a matching
                                 file or directory fails with EIO
  fail-write GLOB ERRNO [COUNT]  the next COUNT (default 1, 0: every) writes to a matching file
                                 fail with ERRNO (EIO, ENOSPC, ...) and write nothing
  cut                            the power cut; replies {"files", "pages_restored", "pages_lost",
                                 "files_resized"}
  persist GLOB                   what matching files hold now survives a cut, as after a sync: the
                                 kernel's own writeback (sync_file_range, dirty page expiry),
                                 which a FUSE file system never sees; replies {"files"}
  clear                          disarms every fault
  stats                          counters and armed faults, as JSON

Threads: the control socket has its own threads; the file system's threads fire the faults.
"""
import errno
import fnmatch
import json
import os
import shlex
import socketserver
import threading
import traceback

MAX_COUNT = 1 << 30


class Fault:
    def __init__(self, op, glob, errno_name, count):
        self.op = op
        self.glob = glob
        self.errno_name = errno_name
        self.remaining = None if count == 0 else count  # None: every time
        self.fired = 0

    def json(self):
        return {"op": self.op, "glob": self.glob, "errno": self.errno_name, "remaining": self.remaining,
                "fired": self.fired}


class Faults:
    """Armed faults and the counters of what happened. Any thread; guarded by `lock`."""

    def __init__(self):
        self.lock = threading.Lock()
        self.armed = []
        self.counts = {"syncs_ok": 0, "syncs_failed": 0, "writes": 0, "writes_failed": 0, "cuts": 0}

    def arm(self, fault):
        with self.lock:
            self.armed.append(fault)

    def clear(self):
        with self.lock:
            self.armed.clear()

    def fire(self, op, paths):
        """The errno of the first armed fault of `op` matching one of `paths`, or None."""
        with self.lock:
            for fault in self.armed:
                if fault.op != op or fault.remaining == 0:
                    continue
                if any(fnmatch.fnmatchcase(path, fault.glob) for path in paths):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    fault.fired += 1
                    return getattr(errno, fault.errno_name)
            return None

    def count(self, name):
        with self.lock:
            self.counts[name] += 1

    def json(self):
        with self.lock:
            return dict(self.counts, faults=[fault.json() for fault in self.armed])



def command(fs, line):
    """One control command; returns its reply line."""
    try:
        words = shlex.split(line)
    except ValueError as e:
        return "error: %s" % e
    if not words:
        return "error: empty command"
    name, args = words[0], words[1:]
    try:
        if name == "fail-sync" and len(args) in (1, 2):
            fs.faults.arm(Fault("sync", args[0], "EIO", count_of(args[1:])))
            return "ok"
        if name == "fail-write" and len(args) in (2, 3):
            errno_name = args[1]
            if not errno_name.startswith("E") or not isinstance(getattr(errno, errno_name, None), int):
                return "error: ERRNO must name an errno such as EIO or ENOSPC, got %r" % errno_name
            fs.faults.arm(Fault("write", args[0], errno_name, count_of(args[2:])))
            return "ok"
        if name == "cut" and not args:
            return json.dumps(fs.cut())
        if name == "persist" and len(args) == 1:
            return json.dumps(fs.persist(args[0]))
        if name == "clear" and not args:
            fs.faults.clear()
            return "ok"
        if name == "stats" and not args:
            return json.dumps(fs.faults.json())
    except ValueError as e:
        return "error: %s" % e
    except OSError as e:
        traceback.print_exc()
        return "error: %s failed: %s" % (name, e)
    return "error: unknown command or wrong arguments: %r" % line


def count_of(args):
    if not args:
        return 1
    count = int(args[0])
    if count < 0 or count > MAX_COUNT:
        raise ValueError("COUNT must be in [0, %d], got %d" % (MAX_COUNT, count))
    return count


def control_server(fs, path):
    """A server on the Unix socket `path` (replacing a stale one) that runs each line as a command
    on `fs`, the file system: its `faults` and its `cut()`. The caller serves it and closes it."""

    class Connection(socketserver.StreamRequestHandler):
        def handle(self):
            for raw in self.rfile:
                reply = command(fs, raw.decode("utf-8", "replace").strip())
                self.wfile.write((reply + "\n").encode("utf-8"))
                self.wfile.flush()

    if os.path.exists(path):
        os.unlink(path)
    server = socketserver.ThreadingUnixStreamServer(path, Connection)
    server.daemon_threads = True
    return server


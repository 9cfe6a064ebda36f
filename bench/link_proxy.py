"""A user-space link for benchmarks (this machine has no netem): a TCP proxy on loopback that adds a
one-way delay to every byte and caps each direction's bandwidth, and can be cut (connections
reset, new ones refused) and healed. The tests have the same thing in Java (LinkProxy)."""
import collections
import socket
import struct
import threading
import time

CHUNK = 256 * 1024


class LinkProxy:
    def __init__(self, upstream_port, delay_s=0.0, bytes_per_s=None):
        self.upstream = ("127.0.0.1", upstream_port)
        self.delay_s = delay_s
        self.bytes_per_s = bytes_per_s
        self.cut_now = False
        self.sockets = []
        self.lock = threading.Lock()
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def cut(self):
        self.cut_now = True
        with self.lock:
            for s in self.sockets:
                _reset(s)
            self.sockets.clear()

    def heal(self):
        self.cut_now = False

    def close(self):
        self.cut()
        self.server.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.cut_now:
                _reset(client)
                continue
            try:
                remote = socket.create_connection(self.upstream, timeout=5)
                remote.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self.lock:
                self.sockets += [client, remote]
            self._pump(client, remote)
            self._pump(remote, client)

    def _pump(self, src, dst):
        queue = collections.deque()
        ready = threading.Condition()

        def read():
            try:
                while True:
                    data = src.recv(CHUNK)
                    if not data:
                        break
                    with ready:
                        queue.append((time.monotonic() + self.delay_s, data))
                        ready.notify()
            except OSError:
                pass
            with ready:
                queue.append((0, None))
                ready.notify()

        def send():
            next_free = time.monotonic()
            try:
                while True:
                    with ready:
                        while not queue:
                            ready.wait()
                        due, data = queue.popleft()
                    if data is None:
                        dst.shutdown(socket.SHUT_WR)
                        return
                    wait = due - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    if self.bytes_per_s:
                        next_free = max(next_free, time.monotonic()) + len(data) / self.bytes_per_s
                        wait = next_free - time.monotonic()
                        if wait > 0:
                            time.sleep(wait)
                    dst.sendall(data)
            except OSError:
                _reset(src)

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=send, daemon=True).start()


def _reset(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass

package cgw.tests.replication;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A user-space link between two gateways (this machine has no netem): a TCP proxy on loopback
 * that delays every byte by a one-way delay, caps each direction's bandwidth, and can be cut
 * (every connection reset, new ones refused) or stalled (connections stay open, nothing moves).
 * Threads: an acceptor, and per connection and direction a reader and a sender.
 */
final class LinkProxy implements AutoCloseable {
    private static final int CHUNK = 64 * 1024;

    private final ServerSocket server;
    private final InetSocketAddress upstream;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private volatile long delayNanos;
    private volatile long bytesPerSecond = Long.MAX_VALUE;
    private volatile boolean cut;
    private volatile boolean stalled;
    private volatile boolean closed;

    LinkProxy(int upstreamPort) throws IOException {
        this.upstream = new InetSocketAddress(InetAddress.getLoopbackAddress(), upstreamPort);
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::accept, "link-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return server.getLocalPort();
    }

    String url() {
        return "http://127.0.0.1:" + port();
    }

    /** One-way delay, added to every byte in each direction. */
    LinkProxy delayMillis(long millis) {
        delayNanos = millis * 1_000_000;
        return this;
    }

    /** Bandwidth of each direction in bytes per second. */
    LinkProxy bandwidth(long perSecond) {
        bytesPerSecond = perSecond;
        return this;
    }

    /** Resets every connection and refuses new ones until {@link #heal}. */
    void cut() {
        cut = true;
        sockets.forEach(LinkProxy::reset);
        sockets.clear();
    }

    void heal() {
        cut = false;
        stalled = false;
    }

    /** Connections stay open but no byte moves until {@link #heal}. */
    void stall() {
        stalled = true;
    }

    private void accept() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            if (cut) {
                reset(client);
                continue;
            }
            try {
                Socket remote = new Socket();
                remote.connect(upstream, 5000);
                sockets.add(client);
                sockets.add(remote);
                pump(client, remote);
                pump(remote, client);
            } catch (IOException e) {
                reset(client);
            }
        }
    }

    private record Chunk(long dueNanos, byte[] bytes) {
    }

    /** Moves bytes from {@code from} to {@code to}: a reader queues them stamped, a sender releases them when due. */
    private void pump(Socket from, Socket to) {
        Deque<Chunk> queue = new ArrayDeque<>();
        Thread reader = new Thread(() -> {
            byte[] buffer = new byte[CHUNK];
            try (InputStream in = from.getInputStream()) {
                int n;
                while ((n = in.read(buffer)) > 0) {
                    synchronized (queue) {
                        queue.addLast(new Chunk(System.nanoTime() + delayNanos, Arrays.copyOf(buffer, n)));
                        queue.notifyAll();
                    }
                }
            } catch (IOException e) {
                // the connection ended; the sender finishes what is queued, then closes its side
            }
            synchronized (queue) {
                queue.addLast(new Chunk(0, null));
                queue.notifyAll();
            }
        }, "link-read");
        Thread sender = new Thread(() -> {
            long nextFree = System.nanoTime();
            try (OutputStream out = to.getOutputStream()) {
                while (true) {
                    Chunk chunk;
                    synchronized (queue) {
                        while (queue.isEmpty()) {
                            queue.wait();
                        }
                        chunk = queue.removeFirst();
                    }
                    if (chunk.bytes() == null) {
                        to.shutdownOutput();
                        return;
                    }
                    sleepUntil(chunk.dueNanos());
                    while (stalled && !cut) {
                        Thread.sleep(10);
                    }
                    long rate = bytesPerSecond;
                    if (rate != Long.MAX_VALUE) {
                        nextFree = Math.max(nextFree, System.nanoTime()) + (long) (chunk.bytes().length * 1e9 / rate);
                        sleepUntil(nextFree);
                    }
                    out.write(chunk.bytes());
                }
            } catch (IOException | InterruptedException e) {
                reset(from);
            }
        }, "link-send");
        reader.setDaemon(true);
        sender.setDaemon(true);
        reader.start();
        sender.start();
    }

    private static void sleepUntil(long dueNanos) throws InterruptedException {
        long wait = dueNanos - System.nanoTime();
        if (wait > 0) {
            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
        }
    }

    private static void reset(Socket socket) {
        try {
            socket.setSoLinger(true, 0); // an RST, as a cut link gives the other side sooner or later
            socket.close();
        } catch (IOException e) {
            // already gone
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        sockets.forEach(LinkProxy::reset);
    }
}

package cgw.tools;

import cgw.barrier.GroupBarrier;
import cgw.nbd.NbdServer;
import cgw.nbd.NbdServerConfig;
import cgw.nbd.ServerTransport;
import cgw.nbd.export.ExportPolicy;
import cgw.nbd.export.ExportRegistry;
import cgw.nbd.export.SnapshotNames;
import cgw.nbd.export.StoreExports;
import cgw.replication.Replication;
import cgw.store.BlockStore;
import cgw.store.Volume;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.OptionalLong;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's NBD listener and the pool its store calls run on. The pool is bounded; the NBD
 * connections bound what they put in it (requests and bytes in flight per connection), so it is
 * never full in practice, and a request it cannot take fails with EIO instead of blocking a loop.
 * Started and closed by the gateway's owning thread; closing stops NBD first, then the pool.
 */
final class NbdFrontend implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NbdFrontend.class);
    /**
     * Threads of the NBD store calls: twice the cores, at least 4 ({@code -Dcgw.nbd.storeThreads}
     * overrides it). Reads the page cache serves and writes into it are CPU work, and every thread
     * more than the cores can run is one more to park and wake per request, which costs small
     * random reads more than it gains. What fewer threads cost is parallelism for reads that go
     * to the disk: each waits on one thread, so a store much larger than memory on a fast device
     * may want more.
     */
    static final String STORE_THREADS_PROPERTY = "cgw.nbd.storeThreads";
    private static final int MAX_STORE_THREADS = 1024;
    static final int STORE_QUEUE_LENGTH = 1 << 16;

    private final ThreadPoolExecutor storeCalls;
    private final StoreExports exports;
    private final NbdServer server;

    private NbdFrontend(ThreadPoolExecutor storeCalls, StoreExports exports, NbdServer server) {
        this.storeCalls = storeCalls;
        this.exports = exports;
        this.server = server;
    }

    /**
     * Serves every volume of {@code store}: {@code VOLUME} through its epoch gate, and
     * {@code VOLUME@SNAPSHOT_ID} for each snapshot of the barrier's catalog ({@code VOLUME} of a
     * replica or demoted group shows its newest complete epoch, read-only: {@code replication}); {@code decorate} wraps
     * the exports in layers such as the metrics'; {@code policy} says which clients may open which.
     * Listens on the gateway's {@code transport}.
     */
    static NbdFrontend start(ServeSettings settings, BlockStore store, GroupBarrier barrier, Replication replication,
            UnaryOperator<ExportRegistry> decorate, ExportPolicy policy, SslContext tls, ServerTransport transport) {
        int threads = storeThreads(System.getProperty(STORE_THREADS_PROPERTY),
                Runtime.getRuntime().availableProcessors());
        ThreadPoolExecutor storeCalls = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS,
                // Netty's own thread type, not NamedThreads': these threads take the replies' pooled
                // buffers and Netty's per-thread state (FastThreadLocal), which is a field there and
                // a ThreadLocal lookup on any other thread
                new ArrayBlockingQueue<>(STORE_QUEUE_LENGTH), new DefaultThreadFactory("cgw-nbd-store", true));
        SnapshotNames snapshots = new SnapshotNames() {
            @Override
            public OptionalLong epochOf(Volume volume, String snapshot) {
                return barrier.epochOf(volume, snapshot);
            }

            @Override
            public boolean exists(String snapshot) {
                return barrier.snapshotExists(snapshot);
            }
        };
        StoreExports exports = new StoreExports(store, storeCalls, snapshots,
                volume -> new WritableGate(barrier.gate(volume)::submit, volume.name(), replication::writable),
                replication::headView);
        NbdServerConfig config = NbdServerConfig.defaults(settings.nbd().socketAddress())
                .withUnixSocket(settings.nbdSocket())
                .withTls(tls)
                .withPolicy(policy);
        try {
            return new NbdFrontend(storeCalls, exports, NbdServer.start(config, decorate.apply(exports), transport));
        } catch (RuntimeException e) {
            storeCalls.shutdownNow();
            throw new ServeException(e.getMessage(), e);
        }
    }

    /** The store threads {@code -Dcgw.nbd.storeThreads} asks for ({@code value}, null when unset), or the default. */
    static int storeThreads(String value, int cores) {
        if (value == null) {
            return Math.max(4, 2 * cores);
        }
        try {
            int threads = Integer.parseInt(value.trim());
            if (threads >= 1 && threads <= MAX_STORE_THREADS) {
                return threads;
            }
        } catch (NumberFormatException e) {
            // reported below, with what was given
        }
        throw new ServeException("-D" + STORE_THREADS_PROPERTY + " must be a number of threads from 1 to "
                + MAX_STORE_THREADS + ", got '" + value + "'");
    }

    String listeningLine() {
        return "NBD listening on nbd://" + HostPort.of(server.tcpAddress());
    }

    /** NBD connections open on a volume now. */
    int openConnections(String volume) {
        return exports.openConnections(volume);
    }

    @Override
    public void close() throws InterruptedException {
        server.close();
        storeCalls.shutdown();
        if (!storeCalls.awaitTermination(30, TimeUnit.SECONDS)) {
            log.warn("NBD store calls still running after 30 s");
        }
    }
}

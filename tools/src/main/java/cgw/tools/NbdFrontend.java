package cgw.tools;

import cgw.nbd.NbdServer;
import cgw.nbd.NbdServerConfig;
import cgw.nbd.export.ExportRegistry;
import cgw.nbd.export.StoreExports;
import cgw.barrier.GroupBarrier;
import cgw.store.BlockStore;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.DefaultThreadFactory;
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
     * more than the cores can run is one more to park and wake per request: on the 2-core
     * benchmark machine, 4 KiB random reads at QD32 ran at 101k IOPS with 8 threads and 115k with 4
     * (A/B, same build; random writes, 1 MiB transfers and write + flush unchanged or better).
     * What fewer threads cost is parallelism for reads that go to the disk: each waits on one
     * thread, so a store much larger than memory on a fast device may want more.
     */
    static final int STORE_THREADS = Integer.getInteger("cgw.nbd.storeThreads",
            Math.max(4, 2 * Runtime.getRuntime().availableProcessors()));
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
     * {@code VOLUME@SNAPSHOT_ID} for each snapshot of the barrier's catalog; {@code decorate} wraps
     * the exports in layers such as the metrics'.
     */
    static NbdFrontend start(ServeSettings settings, BlockStore store, GroupBarrier barrier,
            UnaryOperator<ExportRegistry> decorate, SslContext tls) {
        ThreadPoolExecutor storeCalls = new ThreadPoolExecutor(STORE_THREADS, STORE_THREADS, 60, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(STORE_QUEUE_LENGTH), new DefaultThreadFactory("cgw-nbd-store", true));
        StoreExports exports = new StoreExports(store, storeCalls, barrier::epochOf, volume -> barrier.gate(volume)::submit);
        NbdServerConfig config = NbdServerConfig.defaults(settings.nbd().socketAddress())
                .withUnixSocket(settings.nbdSocket())
                .withTls(tls);
        try {
            return new NbdFrontend(storeCalls, exports, NbdServer.start(config, decorate.apply(exports)));
        } catch (RuntimeException e) {
            storeCalls.shutdownNow();
            throw new ServeException(e.getMessage(), e);
        }
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

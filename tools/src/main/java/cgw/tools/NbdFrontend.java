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
    static final int STORE_THREADS = 8;
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

package cgw.tests.nbd;

import cgw.api.Transport;
import cgw.nbd.NbdServer;
import cgw.nbd.NbdServerConfig;
import cgw.nbd.export.ExportRegistry;
import cgw.nbd.export.SnapshotNames;
import cgw.nbd.export.StoreExports;
import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.UnaryOperator;

/** A real store and NBD server on a free loopback port, for tests with real NBD clients. */
public final class NbdFixture implements AutoCloseable {
    public final BlockStore store;
    public final StoreExports exports;
    public final NbdServer server;
    private final ExecutorService executor;

    public NbdFixture(Path dir) {
        this(dir, config -> config);
    }

    public NbdFixture(Path dir, UnaryOperator<NbdServerConfig> configure) {
        this(dir, configure, (store, exports) -> exports);
    }

    /** Serves the exports through {@code decorate} (given the store), a layer such as the gateway's metrics. */
    public NbdFixture(Path dir, UnaryOperator<NbdServerConfig> configure,
            BiFunction<BlockStore, ExportRegistry, ExportRegistry> decorate) {
        store = BlockStore.open(dir.resolve("store"),
                StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false));
        executor = Executors.newFixedThreadPool(4);
        exports = new StoreExports(store, executor, SnapshotNames.retainedEpochs(store));
        server = NbdServer.start(configure.apply(NbdServerConfig.defaults(new InetSocketAddress("127.0.0.1", 0))),
                decorate.apply(store, exports), Transport.best());
    }

    public Volume createVolume(String name, long sizeBytes) {
        return store.createVolume(name, sizeBytes);
    }

    public int port() {
        return server.tcpAddress().getPort();
    }

    public String uri(String export) {
        return "nbd://127.0.0.1:" + port() + "/" + export;
    }

    @Override
    public void close() throws InterruptedException {
        server.close();
        executor.shutdown();
        executor.awaitTermination(30, TimeUnit.SECONDS);
        store.close();
    }
}

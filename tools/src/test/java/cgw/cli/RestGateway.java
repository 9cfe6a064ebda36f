package cgw.cli;

import cgw.api.RestApi;
import cgw.api.RestServer;
import cgw.barrier.GroupBarrier;
import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.tools.tls.TlsMaterial;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A real REST server on a real block store and group barrier in {@code dir}, laid out as {@code cgw serve} lays out
 * its data directory: {@code dir/cgw-data/api-token} and, with TLS, {@code dir/cgw-data/tls/}.
 */
final class RestGateway implements AutoCloseable {
    static final String TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private final BlockStore store;
    private final GroupBarrier barrier;
    private final RestServer server;
    private final Path dataDir;
    private final boolean tls;

    private RestGateway(Path dir, boolean tls) throws IOException {
        this.dataDir = dir.resolve("cgw-data");
        this.tls = tls;
        Files.createDirectories(dataDir);
        Files.writeString(tokenFile(), TOKEN + "\n");
        SslContext https = tls ? TlsMaterial.ensure(dataDir.resolve("tls"), List.of()).httpsContext() : null;
        store = BlockStore.open(dataDir.resolve("store"),
                StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false));
        barrier = GroupBarrier.open(store);
        server = RestServer.start(new InetSocketAddress("127.0.0.1", 0), RestApi.routes(store, barrier, volume -> 0),
                TOKEN, https);
    }

    static RestGateway http(Path dir) throws IOException {
        return new RestGateway(dir, false);
    }

    static RestGateway https(Path dir) throws IOException {
        return new RestGateway(dir, true);
    }

    String url() {
        return (tls ? "https" : "http") + "://127.0.0.1:" + server.address().getPort();
    }

    Path tokenFile() {
        return dataDir.resolve("api-token");
    }

    Path caCert() {
        return dataDir.resolve("tls/ca-cert.pem");
    }

    BlockStore store() {
        return store;
    }

    @Override
    public void close() {
        server.close();
        barrier.close();
        store.close();
    }
}

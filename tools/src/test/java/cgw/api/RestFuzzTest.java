package cgw.api;

import cgw.barrier.GroupBarrier;
import cgw.host.InFlight;
import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;

/**
 * Coverage-guided fuzzing of the REST API over one connection's real pipeline (codec, early token
 * check, body limit, handler) on a real store and barrier: raw bytes as any client may send, and
 * well-formed requests with the token whose route, path parameter and JSON body are fuzzed. An
 * exception escaping the pipeline, a 500 answer, or a leaked buffer is a finding.
 */
class RestFuzzTest {
    private static final String TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static final String[] METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    private static final String[] PATHS = {"/v1/volumes", "/v1/volumes/{}", "/v1/groups", "/v1/groups/{}",
            "/v1/groups/{}/snapshots", "/v1/snapshots", "/v1/snapshots/{}", "/v1/snapshots/{}/clone", "/healthz"};
    private static BlockStore store;
    private static Path storeDir;
    private static Routes routes;
    private static BearerToken token;

    private static synchronized Routes routes() {
        if (routes == null) {
            try {
                storeDir = Files.createTempDirectory("cgw-rest-fuzz");
                store = BlockStore.open(storeDir,
                        StoreOptions.defaults().withCacheBytes(16 << 20, 4 << 20).withBackgroundGc(false));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            routes = RestApi.routes(store, GroupBarrier.open(store), volume -> 0);
            token = new BearerToken(ApiTokens.adminOnly(TOKEN));
        }
        return routes;
    }

    @AfterAll
    static synchronized void closeStore() throws IOException {
        if (store != null) {
            store.close();
            store = null;
            routes = null;
            try (Stream<Path> files = Files.walk(storeDir)) {
                for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(file);
                }
            }
        }
    }

    @FuzzTest(maxDuration = "2h", maxExecutions = 1_000_000)
    void raw(byte[] input) {
        send(input);
    }

    @FuzzTest(maxDuration = "2h", maxExecutions = 1_000_000)
    void request(FuzzedDataProvider data) {
        String method = data.pickValue(METHODS);
        String path = data.pickValue(PATHS).replace("{}",
                URLEncoder.encode(data.consumeString(24), StandardCharsets.UTF_8));
        byte[] body = data.consumeRemainingAsBytes();
        ByteArrayOutputStream request = new ByteArrayOutputStream();
        request.writeBytes((method + " " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN
                + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        request.writeBytes(body);
        String reply = send(request.toByteArray());
        if (reply.startsWith("HTTP/1.1 500")) {
            throw new IllegalStateException("500 for " + method + " " + path + ": " + reply);
        }
    }

    /** One connection: the input, the pending work run on the spot, and what came back as text. */
    private static String send(byte[] input) {
        Routes table = routes();
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.config().setAutoRead(false);
        channel.pipeline().addLast(new HttpServerCodec(), new EarlyAuth(table, token),
                new RequestBodyLimit(RestServer.MAX_BODY_BYTES),
                new RestHandler(table, token, Runnable::run, new InFlight("fuzz"), null));
        try {
            channel.writeInbound(Unpooled.wrappedBuffer(input));
            channel.runPendingTasks();
            StringBuilder out = new StringBuilder();
            for (Object written; (written = channel.readOutbound()) != null;) {
                io.netty.buffer.ByteBuf bytes = (io.netty.buffer.ByteBuf) written;
                out.append(bytes.toString(StandardCharsets.ISO_8859_1));
                bytes.release();
            }
            return out.toString();
        } finally {
            channel.finishAndReleaseAll();
        }
    }
}

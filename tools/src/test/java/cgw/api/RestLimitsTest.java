package cgw.api;

import static cgw.api.ApiTestClient.TOKEN;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.barrier.GroupBarrier;
import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** What a careless or hostile REST client can hold, over raw sockets: no body without a token, no trickle, no idle, no crowd. */
@Timeout(60)
class RestLimitsTest {
    private static final RestLimits LIMITS = new RestLimits(800, 800, 3);

    @TempDir
    Path dir;
    private BlockStore store;
    private RestServer server;
    private final List<Socket> sockets = new ArrayList<>();

    @BeforeEach
    void start() {
        store = BlockStore.open(dir,
                StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false));
        server = RestServer.start(new InetSocketAddress("127.0.0.1", 0),
                RestApi.routes(store, GroupBarrier.open(store), volume -> 0), ApiTokens.adminOnly(TOKEN), null,
                Transport.best(), LIMITS);
    }

    @AfterEach
    void stop() throws IOException {
        for (Socket socket : sockets) {
            socket.close();
        }
        server.close();
        store.close();
    }

    private Socket connect() throws IOException {
        Socket socket = new Socket("127.0.0.1", server.address().getPort());
        socket.setSoTimeout(10_000);
        sockets.add(socket);
        return socket;
    }

    /** Everything the server sends until it closes the connection. */
    private static String readUntilClosed(Socket socket) throws IOException {
        try {
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        } catch (SocketException e) {
            return ""; // reset: closed with our bytes unread
        }
    }

    @Test
    void aRequestWithoutTheTokenIsRefusedBeforeItsBodyArrives() throws IOException {
        Socket socket = connect();
        OutputStream out = socket.getOutputStream();
        out.write(("POST /v1/volumes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Content-Length: 500000\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(new byte[1000]);
        out.flush();
        // the other 499,000 bytes never come: a reply that waited for them would time this read out
        String reply = readUntilClosed(socket);
        assertThat(reply).startsWith("HTTP/1.1 401 Unauthorized").contains("missing 'Authorization: Bearer TOKEN'");
    }

    @Test
    void aRequestThatTricklesInIsClosedAtItsDeadline() throws Exception {
        Socket socket = connect();
        OutputStream out = socket.getOutputStream();
        out.write("GET /healthz HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
        long start = System.nanoTime();
        boolean closed = false;
        for (int i = 0; i < 40 && !closed; i++) {
            Thread.sleep(100);
            try {
                out.write(("X-Slow-" + i + ": y\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (IOException e) {
                closed = true;
            }
        }
        if (!closed) {
            assertThat(readUntilClosed(socket)).doesNotContain("200 OK");
        }
        assertThat((System.nanoTime() - start) / 1_000_000).as("closed long before the trickle ended")
                .isLessThan(3_500);
    }

    @Test
    void anIdleConnectionIsClosedAndABusyOneServed() throws Exception {
        Socket idle = connect();
        long start = System.nanoTime();
        assertThat(idle.getInputStream().read()).isEqualTo(-1);
        assertThat((System.nanoTime() - start) / 1_000_000).isBetween(500L, 5_000L);

        Socket busy = connect();
        for (int i = 0; i < 3; i++) {
            Thread.sleep(500); // within the idle timeout each time
            busy.getOutputStream()
                    .write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(readReply(busy.getInputStream())).startsWith("HTTP/1.1 200 OK");
        }
    }

    @Test
    void connectionsPastTheCapAreClosed() throws Exception {
        List<Socket> open = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Socket socket = connect();
            socket.getOutputStream()
                    .write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(readReply(socket.getInputStream())).startsWith("HTTP/1.1 200 OK");
            open.add(socket);
        }
        Socket refused = connect();
        assertThat(refused.getInputStream().read()).as("closed as accepted").isEqualTo(-1);
        assertThat(open).hasSize(3);
    }

    /** One reply of /healthz: its head and its short body. */
    private static String readReply(InputStream in) throws IOException {
        StringBuilder text = new StringBuilder();
        while (!text.toString().endsWith("{\"status\":\"ok\"}")) {
            int b = in.read();
            if (b < 0) {
                break;
            }
            text.append((char) b);
        }
        return text.toString();
    }
}

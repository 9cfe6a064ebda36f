package cgw.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The listener's limits over real sockets: a cap on connections, a deadline on the handshake. */
@Timeout(60)
class NbdServerLimitsTest {
    /** NBDMAGIC, IHAVEOPT and the handshake flags. */
    private static final int GREETING_BYTES = 18;
    private static final ServerTransport NIO = new ServerTransport() {
        @Override
        public IoHandlerFactory ioHandlerFactory() {
            return NioIoHandler.newFactory();
        }

        @Override
        public Class<? extends ServerChannel> serverChannelClass() {
            return NioServerSocketChannel.class;
        }

        @Override
        public Class<? extends ServerChannel> domainServerChannelClass() {
            return null;
        }
    };

    @TempDir
    Path dir;
    private StoreFixture fixture;
    private final List<Socket> sockets = new ArrayList<>();

    @BeforeEach
    void open() {
        fixture = new StoreFixture(dir, Runnable::run);
    }

    @AfterEach
    void close() throws Exception {
        for (Socket socket : sockets) {
            socket.close();
        }
        fixture.close();
    }

    private NbdServer start(NbdServerConfig config) {
        return NbdServer.start(config, fixture.exports, NIO);
    }

    private Socket connect(NbdServer server) throws IOException {
        Socket socket = new Socket();
        socket.connect(server.tcpAddress(), 5000);
        socket.setSoTimeout(10_000);
        sockets.add(socket);
        return socket;
    }

    /** Reads the greeting, or fewer bytes when the server closes the connection first. */
    private static int greetingBytes(Socket socket) throws IOException {
        InputStream in = socket.getInputStream();
        return in.readNBytes(GREETING_BYTES).length;
    }

    @Test
    void connectionsPastTheCapAreClosedAndTheOthersServed() throws Exception {
        NbdServer server = start(NbdServerConfig.defaults(new InetSocketAddress("127.0.0.1", 0)).withMaxConnections(3));
        try {
            List<Socket> admitted = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Socket socket = connect(server);
                assertThat(greetingBytes(socket)).isEqualTo(GREETING_BYTES);
                admitted.add(socket);
            }
            Socket refused = connect(server);
            assertThat(greetingBytes(refused)).as("closed without a greeting").isZero();
            assertThat(server.connectionCount()).isEqualTo(3);

            admitted.get(0).close();
            org.awaitility.Awaitility.await().until(() -> server.connectionCount() == 2);
            assertThat(greetingBytes(connect(server))).as("room again").isEqualTo(GREETING_BYTES);
        } finally {
            server.close();
        }
    }

    @Test
    void aHandshakeThatNeverEndsIsClosedAtItsDeadline() throws Exception {
        NbdServer server = start(NbdServerConfig.defaults(new InetSocketAddress("127.0.0.1", 0))
                .withHandshakeTimeoutMs(500));
        try {
            Socket slow = connect(server);
            assertThat(greetingBytes(slow)).isEqualTo(GREETING_BYTES);
            long start = System.nanoTime();
            slow.getOutputStream().write(new byte[]{0, 0}); // half of the client flags, then nothing
            assertThat(slow.getInputStream().read()).as("closed by the server").isEqualTo(-1);
            assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(5_000);
        } finally {
            server.close();
        }
    }
}

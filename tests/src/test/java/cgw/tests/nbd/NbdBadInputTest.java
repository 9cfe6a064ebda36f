package cgw.tests.nbd;

import static cgw.tests.nbd.RawNbdClient.CMD_BLOCK_STATUS;
import static cgw.tests.nbd.RawNbdClient.CMD_DISC;
import static cgw.tests.nbd.RawNbdClient.CMD_FLUSH;
import static cgw.tests.nbd.RawNbdClient.CMD_READ;
import static cgw.tests.nbd.RawNbdClient.CMD_TRIM;
import static cgw.tests.nbd.RawNbdClient.CMD_WRITE;
import static cgw.tests.nbd.RawNbdClient.CMD_WRITE_ZEROES;
import static cgw.tests.nbd.RawNbdClient.EINVAL;
import static cgw.tests.nbd.RawNbdClient.ENOSPC;
import static cgw.tests.nbd.RawNbdClient.EPERM;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import cgw.store.Volume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed and hostile input: each case gets the answer the protocol asks for, or its own
 * connection closed; every other client goes on, no buffer leaks (every test of this module runs
 * under {@link cgw.leak.NoLeaks}), and acknowledged data stays.
 */
class NbdBadInputTest {
    private static final int SIZE = 1 << 20;

    @TempDir
    Path dir;
    private NbdFixture nbd;
    private Volume volume;
    private byte[] pattern;

    @BeforeEach
    void start() throws IOException {
        // longer than any wait of these tests (the client's 10 s read timeout, the 10 s awaits), so a
        // connection the server drops was dropped for what the client did, never by the handshake timeout
        nbd = new NbdFixture(dir, config -> config.withHandshakeTimeoutMs(60_000));
        volume = nbd.createVolume("disk", SIZE);
        pattern = new byte[SIZE];
        new java.util.Random(1).nextBytes(pattern);
        try (RawNbdClient client = connected()) {
            client.request(0, CMD_WRITE, 1, 0, SIZE, pattern);
            assertThat(client.readSimpleReply(0).error()).isZero();
            client.request(0, CMD_DISC, 2, 0, 0, null);
        }
    }

    @AfterEach
    void stop() throws Exception {
        // whatever happened, acknowledged data is intact and the server serves a new client
        assertANewClientReadsThePattern();
        nbd.close();
    }

    private void assertANewClientReadsThePattern() throws IOException {
        try (RawNbdClient client = connected()) {
            client.request(0, CMD_READ, 99, 0, SIZE, null);
            assertThat(client.readSimpleReply(SIZE).data()).as("the volume as the set-up wrote it").isEqualTo(pattern);
        }
    }

    /** Waits until the server has closed every client connection and every export they opened. */
    private void awaitEveryConnectionClosed() {
        await("the server closes every connection").atMost(Duration.ofSeconds(10))
                .until(() -> nbd.server.connectionCount() == 0 && nbd.exports.openConnections("disk") == 0);
    }

    private RawNbdClient connected() throws IOException {
        RawNbdClient client = new RawNbdClient(nbd.port()).greet();
        assertThat(client.go("disk").type()).isEqualTo(RawNbdClient.REP_ACK);
        return client;
    }

    @Test
    void garbageInsteadOfOptionMagicClosesThatConnection() throws IOException {
        try (RawNbdClient client = new RawNbdClient(nbd.port()).greet()) {
            client.out.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
            client.out.flush();
            assertThat(client.closedByServer()).isTrue();
        }
    }

    @Test
    void unknownClientFlagsCloseThatConnection() throws IOException {
        try (RawNbdClient client = new RawNbdClient(nbd.port())) {
            client.in.readFully(new byte[18]);
            client.out.writeInt(0x80);
            client.out.flush();
            assertThat(client.closedByServer()).isTrue();
        }
    }

    @Test
    void optionsWithLyingLengthsAreRefusedAsInvalid() throws IOException {
        try (RawNbdClient client = new RawNbdClient(nbd.port()).greet()) {
            // GO whose name length runs past the option
            client.sendOption(RawNbdClient.OPT_GO, ByteBuffer.allocate(10).putInt(1000).put("disk".getBytes())
                    .putShort((short) 0).array());
            assertThat(client.readOptionReply().type()).isEqualTo(RawNbdClient.REP_ERR_INVALID);
            // GO claiming three information requests but carrying one
            client.sendOption(RawNbdClient.OPT_GO, ByteBuffer.allocate(12).putInt(4).put("disk".getBytes())
                    .putShort((short) 3).putShort((short) 0).array());
            assertThat(client.readOptionReply().type()).isEqualTo(RawNbdClient.REP_ERR_INVALID);
            // too short to hold anything
            client.sendOption(RawNbdClient.OPT_INFO, new byte[3]);
            assertThat(client.readOptionReply().type()).isEqualTo(RawNbdClient.REP_ERR_INVALID);
            // LIST and STRUCTURED_REPLY take no data
            client.sendOption(RawNbdClient.OPT_LIST, new byte[1]);
            assertThat(client.readOptionReply().type()).isEqualTo(RawNbdClient.REP_ERR_INVALID);
            client.sendOption(RawNbdClient.OPT_STRUCTURED_REPLY, new byte[4]);
            assertThat(client.readOptionReply().type()).isEqualTo(RawNbdClient.REP_ERR_INVALID);
            // meta context before structured replies
            client.sendOption(RawNbdClient.OPT_SET_META_CONTEXT, new byte[8]);
            assertThat(client.readOptionReply().type()).isEqualTo(RawNbdClient.REP_ERR_INVALID);
            // unknown options and STARTTLS on a server without TLS
            client.sendOption(42, new byte[5]);
            assertThat(client.readOptionReply().type()).isEqualTo(RawNbdClient.REP_ERR_UNSUP);
            client.sendOption(RawNbdClient.OPT_STARTTLS, new byte[0]);
            assertThat(client.readOptionReply().type()).isEqualTo(RawNbdClient.REP_ERR_POLICY);
            // unknown export, and the name is in the message
            RawNbdClient.OptionReply unknown = client.go("nope");
            assertThat(unknown.type()).isEqualTo(RawNbdClient.REP_ERR_UNKNOWN);
            assertThat(unknown.text()).contains("nope");
            // after all that, the same connection still negotiates
            assertThat(client.go("disk").type()).isEqualTo(RawNbdClient.REP_ACK);
            client.request(0, CMD_READ, 7, 4096, 4096, null);
            assertThat(client.readSimpleReply(4096).data()).isEqualTo(Arrays.copyOfRange(pattern, 4096, 8192));
        }
    }

    @Test
    void oversizedOptionsAreSkippedOrHungUpOn() throws IOException {
        try (RawNbdClient client = new RawNbdClient(nbd.port()).greet()) {
            client.sendOption(RawNbdClient.OPT_INFO, new byte[200 << 10]);
            assertThat(client.readOptionReply().type()).isEqualTo(RawNbdClient.REP_ERR_TOO_BIG);
            assertThat(client.go("disk").type()).isEqualTo(RawNbdClient.REP_ACK);
        }
        try (RawNbdClient client = new RawNbdClient(nbd.port()).greet()) {
            client.out.writeLong(RawNbdClient.IHAVEOPT);
            client.out.writeInt(RawNbdClient.OPT_INFO);
            client.out.writeInt(0x7fffffff);
            client.out.flush();
            assertThat(client.closedByServer()).isTrue();
        }
    }

    @Test
    void truncatedOptionThenHangUpLeavesTheServerServing() throws IOException {
        try (RawNbdClient client = new RawNbdClient(nbd.port()).greet()) {
            client.out.writeLong(RawNbdClient.IHAVEOPT);
            client.out.writeInt(RawNbdClient.OPT_GO);
            client.out.writeInt(100);
            client.out.write(new byte[10]);
            client.out.flush();
        }
        try (RawNbdClient client = new RawNbdClient(nbd.port())) {
            client.out.write(new byte[3]); // not even the client flags
        }
        // the server let go of both half-negotiated connections, opened nothing, and serves the next client
        awaitEveryConnectionClosed();
        assertANewClientReadsThePattern();
    }

    @Test
    void requestsOutOfRangeGetTheSpecifiedErrors() throws IOException {
        try (RawNbdClient client = connected()) {
            client.request(0, CMD_READ, 1, SIZE - 100, 200, null);
            assertThat(client.readSimpleReply(200).error()).isEqualTo(EINVAL);
            client.request(0, CMD_WRITE, 2, SIZE - 100, 200, new byte[200]);
            assertThat(client.readSimpleReply(0).error()).isEqualTo(ENOSPC);
            client.request(0, CMD_WRITE_ZEROES, 3, SIZE, 1, null);
            assertThat(client.readSimpleReply(0).error()).isEqualTo(ENOSPC);
            client.request(0, CMD_TRIM, 4, Long.MIN_VALUE, 4096, null); // offset 2^63 as unsigned
            assertThat(client.readSimpleReply(0).error()).isEqualTo(EINVAL);
            client.request(0, CMD_READ, 5, -4096, 8192, null); // wraps around if added naively
            assertThat(client.readSimpleReply(8192).error()).isEqualTo(EINVAL);
            client.request(0, CMD_READ, 6, 0, 64L << 20, null); // over the 32 MiB maximum
            assertThat(client.readSimpleReply(64 << 20).error()).isEqualTo(EINVAL);
            client.request(0, CMD_FLUSH, 7, 4096, 0, null);
            assertThat(client.readSimpleReply(0).error()).isEqualTo(EINVAL);
            client.request(0, 99, 8, 0, 0, null);
            assertThat(client.readSimpleReply(0).error()).isEqualTo(EINVAL);
            client.request(1 << 7, CMD_READ, 9, 0, 512, null); // unknown flag
            assertThat(client.readSimpleReply(512).error()).isEqualTo(EINVAL);
            client.request(0, CMD_BLOCK_STATUS, 10, 0, 512, null); // no meta context negotiated
            assertThat(client.readSimpleReply(0).error()).isEqualTo(EINVAL);
            // every refusal left the connection usable, with the right cookies
            client.request(0, CMD_READ, 11, 0, 16, null);
            RawNbdClient.Reply ok = client.readSimpleReply(16);
            assertThat(ok.cookie()).isEqualTo(11);
            assertThat(ok.data()).isEqualTo(Arrays.copyOf(pattern, 16));
        }
    }

    @Test
    void writeOverTheMaximumIsDiscardedAndRefused() throws IOException {
        try (RawNbdClient client = connected()) {
            int length = (32 << 20) + 4096;
            client.header(0, CMD_WRITE, 1, 0, length);
            byte[] chunk = new byte[1 << 20];
            for (int sent = 0; sent < length; sent += chunk.length) {
                client.out.write(chunk, 0, Math.min(chunk.length, length - sent));
            }
            client.out.flush();
            assertThat(client.readSimpleReply(0).error()).isEqualTo(EINVAL);
            client.request(0, CMD_READ, 2, 0, 64, null);
            assertThat(client.readSimpleReply(64).data()).isEqualTo(Arrays.copyOf(pattern, 64));
        }
    }

    /**
     * A payload that trickles in (pieces of 1 byte to 200 KiB, with pauses) is answered, and so
     * are the requests right behind it: the server must not wait for more of a payload than the
     * client still owes (its socket's receive low-water mark follows what is missing), whether the
     * payload starts and ends on block boundaries or not.
     */
    @Test
    void writePayloadTricklingInIsAnsweredAndSoAreTheRequestsBehindIt() throws Exception {
        byte[] inverted = pattern.clone();
        for (int i = 0; i < inverted.length; i++) {
            inverted[i] ^= (byte) 0xff;
        }
        java.util.Random random = new java.util.Random(7);
        try (RawNbdClient client = connected()) {
            trickle(client, 1, 0, inverted, random);
            client.request(0, CMD_READ, 3, 0, SIZE, null);
            assertThat(client.readSimpleReply(SIZE).data()).isEqualTo(inverted);

            // neither end on a block boundary: partial blocks at both ends
            int from = 5000;
            int to = SIZE - 4000;
            trickle(client, 5, from, java.util.Arrays.copyOfRange(pattern, from, to), random);
            byte[] expected = inverted.clone();
            System.arraycopy(pattern, from, expected, from, to - from);
            client.request(0, CMD_READ, 7, 0, SIZE, null);
            assertThat(client.readSimpleReply(SIZE).data()).isEqualTo(expected);

            // a streamed payload whose last byte comes alone, long after the rest
            client.header(0, CMD_WRITE, 8, 0, SIZE);
            client.out.write(pattern, 0, SIZE - 1);
            client.out.flush();
            Thread.sleep(100); // the scenario: the last byte arrives on its own, well after the rest
            client.out.write(pattern, SIZE - 1, 1);
            client.out.flush();
            RawNbdClient.Reply last = client.readSimpleReply(0);
            assertThat(last.cookie()).isEqualTo(8);
            assertThat(last.error()).isZero();
        }
        // @AfterEach reads the pattern back
    }

    /** Sends a WRITE of {@code data} in random pieces with pauses, a FLUSH right behind it, and reads both replies. */
    private static void trickle(RawNbdClient client, long cookie, long offset, byte[] data, java.util.Random random)
            throws Exception {
        client.header(0, CMD_WRITE, cookie, offset, data.length);
        for (int sent = 0; sent < data.length;) {
            int piece = Math.min(data.length - sent,
                    random.nextBoolean() ? 1 + random.nextInt(7) : random.nextInt(200_000));
            client.out.write(data, sent, piece);
            sent += piece;
            if (sent == data.length) {
                // the next request in the same segment as the payload's last bytes
                client.request(0, CMD_FLUSH, cookie + 1, 0, 0, null);
            } else {
                client.out.flush();
                Thread.sleep(random.nextInt(3)); // the scenario: pauses between pieces
            }
        }
        java.util.Set<Long> answered = new java.util.HashSet<>();
        for (int i = 0; i < 2; i++) {
            RawNbdClient.Reply reply = client.readSimpleReply(0);
            assertThat(reply.error()).isZero();
            answered.add(reply.cookie());
        }
        assertThat(answered).containsExactlyInAnyOrder(cookie, cookie + 1);
    }

    @Test
    void badRequestMagicClosesThatConnectionOnly() throws IOException {
        try (RawNbdClient other = connected(); RawNbdClient client = connected()) {
            client.out.writeInt(0xdeadbeef);
            client.out.write(new byte[24]);
            client.out.flush();
            assertThat(client.closedByServer()).isTrue();
            other.request(0, CMD_READ, 3, 0, 32, null);
            assertThat(other.readSimpleReply(32).data()).isEqualTo(Arrays.copyOf(pattern, 32));
        }
    }

    @Test
    void clientThatDiesMidWriteChangesNothing() throws IOException {
        try (RawNbdClient client = connected()) {
            client.header(0, CMD_WRITE, 1, 0, 65536);
            client.out.write(new byte[30000]); // zeroes over the first seven blocks of the pattern, and no more
            client.out.flush();
        }
        // once the server is done with the dead connection, none of its half write is in the volume
        awaitEveryConnectionClosed();
        assertANewClientReadsThePattern();
    }

    @Test
    void writesToASnapshotExportGetEperm() throws IOException {
        long epoch = nbd.store.cut(volume);
        try (RawNbdClient client = new RawNbdClient(nbd.port()).greet()) {
            assertThat(client.go("disk@" + epoch).type()).isEqualTo(RawNbdClient.REP_ACK);
            assertThat(client.transmissionFlags & 2).as("READ_ONLY flag").isEqualTo(2);
            client.request(0, CMD_WRITE, 1, 0, 512, new byte[512]);
            assertThat(client.readSimpleReply(0).error()).isEqualTo(EPERM);
            client.request(0, CMD_TRIM, 2, 0, 4096, null);
            assertThat(client.readSimpleReply(0).error()).isEqualTo(EPERM);
            client.request(0, CMD_WRITE_ZEROES, 3, 0, 4096, null);
            assertThat(client.readSimpleReply(0).error()).isEqualTo(EPERM);
            client.request(0, CMD_READ, 4, 0, 128, null);
            assertThat(client.readSimpleReply(128).data()).isEqualTo(Arrays.copyOf(pattern, 128));
        }
    }

    @Test
    void disconnectRightAfterPipelinedRequestsStillAnswersThem() throws IOException {
        try (RawNbdClient client = connected()) {
            for (int i = 0; i < 16; i++) {
                client.request(0, CMD_READ, 100 + i, i * 4096L, 4096, null);
            }
            client.request(0, CMD_DISC, 200, 0, 0, null);
            java.util.Set<Long> cookies = new java.util.HashSet<>();
            for (int i = 0; i < 16; i++) {
                RawNbdClient.Reply reply = client.readSimpleReply(4096);
                int block = (int) (reply.cookie() - 100);
                assertThat(reply.data()).isEqualTo(Arrays.copyOfRange(pattern, block * 4096, block * 4096 + 4096));
                cookies.add(reply.cookie());
            }
            assertThat(cookies).hasSize(16);
            assertThat(client.closedByServer()).isTrue();
        }
    }

    @Test
    void thousandsOfConnectDisconnectCycles() throws Exception {
        for (int i = 0; i < 3000; i++) {
            try (RawNbdClient client = new RawNbdClient(nbd.port())) {
                switch (i % 3) {
                    case 0 -> client.in.readFully(new byte[18]);
                    case 1 -> {
                        client.greet();
                        client.go("disk");
                    }
                    default -> {
                        client.greet();
                        client.go("disk");
                        client.request(0, CMD_READ, i, 0, 4096, null); // and vanish before the reply
                    }
                }
            }
        }
        awaitEveryConnectionClosed();
    }
}

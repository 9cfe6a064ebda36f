package cgw.tests.nbd;

import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.Campaign;
import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hostile and careless clients against {@code cgw serve} as operators run it (-Xmx256m): clients
 * that pin payload memory, that never read their replies, that hold handshake slots, that
 * trickle REST headers, and a thousand connections at once. A bystander writing at a steady rate
 * (half of what it reaches alone) must keep 70% of its throughput alone under attack, measured in
 * the same test, and the gateway must not
 * run out of memory, and every attacker is closed within its timeout. {@code mvn -P faults verify}
 * runs the attack for longer.
 */
class HostileClientsTest {
    private static final Logger log = LoggerFactory.getLogger(HostileClientsTest.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MIB = 1 << 20;
    /** The gateway's handshake, payload-stall, reply-drain and REST request timeouts. */
    private static final long STUCK_TIMEOUT_MS = 30_000;
    private static final long SLACK_MS = 15_000;

    @TempDir
    Path dir;

    @Test
    void aBystanderKeepsItsThroughputWhileClientsPinMemoryAndSlots() throws Exception {
        require("fio", "fio");
        try (GatewayProcess gateway = GatewayProcess.start(dir.resolve("data"), dir.resolve("stderr"), "--log-level",
                "info")) {
            gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"bystander\",\"size\":\"1GiB\"}");
            gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"target\",\"size\":\"1GiB\"}");
            int seconds = Campaign.pick(10, 60);
            // lay the region out, then one unmeasured run at full speed: every measured run
            // overwrites the same layout. The bystander is a VM writing at a steady half of what
            // it could alone, as a guest's load is, not a benchmark that saturates the host: at
            // full speed it dirties gigabytes a run, and whether the kernel's writeback throttled
            // a run or not decided the ratio more than the attack did.
            fio(gateway, "write", 1, 0);
            long rate = (long) (fio(gateway, "randwrite", seconds, 0) / 2);
            double before = fio(gateway, "randwrite", seconds, rate);

            List<Socket> attackers = new ArrayList<>();
            double attacked;
            try {
                long stuckSince = System.nanoTime();
                attack(gateway, attackers);
                attacked = fio(gateway, "randwrite", seconds, rate);
                assertThat(gateway.call(200, "GET", "/v1/volumes", null).path("volumes")).hasSize(2);
                assertClosedInTime(gateway, attackers, stuckSince);
            } finally {
                for (Socket socket : attackers) {
                    socket.close();
                }
            }
            // alone before and after the attack: the store's own drift between runs is not the attack's
            double alone = (before + fio(gateway, "randwrite", seconds, rate)) / 2;
            log.info("bystander 64 KiB random writes QD8 at up to {} MB/s: {} MB/s alone (mean of the runs before"
                    + " and after), {} MB/s under attack ({}x)", Math.round(rate / 1e6), Math.round(alone / 1e6),
                    Math.round(attacked / 1e6), String.format("%.2f", attacked / alone));
            assertThat(attacked).as("bytes/s under attack vs %s alone", alone).isGreaterThanOrEqualTo(0.7 * alone);
            assertThat(gateway.process.isAlive()).isTrue();
            assertThat(gateway.stderr()).doesNotContain("OutOfMemoryError").doesNotContain("LEAK");
            assertThat(gateway.stop()).isZero();
        }
    }

    @Test
    void aThousandConnectionsAtOnceLeaveEstablishedClientsWorking() throws Exception {
        try (GatewayProcess gateway = GatewayProcess.start(dir.resolve("data"), dir.resolve("stderr"))) {
            gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"vm\",\"size\":\"64MiB\"}");
            try (RawNbdClient established = new RawNbdClient(gateway.nbdPort)) {
                assertThat(established.greet().go("vm").type()).isEqualTo(RawNbdClient.REP_ACK);
                List<Socket> flood = new ArrayList<>();
                int greeted = 0;
                try {
                    for (int i = 0; i < 1000; i++) {
                        Socket socket = new Socket("127.0.0.1", gateway.nbdPort);
                        socket.setSoTimeout(10_000);
                        flood.add(socket);
                    }
                    for (Socket socket : flood) {
                        greeted += greeted(socket) ? 1 : 0;
                    }
                    // the cap counts the established client too
                    assertThat(greeted).isEqualTo(511);
                    byte[] block = new byte[4096];
                    block[0] = 7;
                    established.request(0, RawNbdClient.CMD_WRITE, 1, 0, block.length, block);
                    assertThat(established.readSimpleReply(0).error()).isZero();
                    established.request(0, RawNbdClient.CMD_READ, 2, 0, block.length, null);
                    assertThat(established.readSimpleReply(block.length).data()).isEqualTo(block);
                    assertThat(gateway.call(200, "GET", "/v1/volumes", null).path("volumes")).hasSize(1);
                } finally {
                    for (Socket socket : flood) {
                        socket.close();
                    }
                }
            }
            gateway.awaitMetric("cgw_nbd_connections 0.0");
            try (RawNbdClient later = new RawNbdClient(gateway.nbdPort)) {
                assertThat(later.greet().go("vm").type()).isEqualTo(RawNbdClient.REP_ACK);
            }
            assertThat(gateway.stderr()).doesNotContain("OutOfMemoryError");
        }
    }

    /** Opens the attackers' connections; each stays open, doing harm, until the test closes it. */
    private static void attack(GatewayProcess gateway, List<Socket> attackers) throws IOException {
        // payloads announced at the maximum and never finished: 12 x 32 MiB is more than the heap
        for (int i = 0; i < 12; i++) {
            RawNbdClient client = handshake(gateway, attackers);
            client.header(0, RawNbdClient.CMD_WRITE, i, 0, 32 * MIB);
            client.out.write(new byte[64 << 10]);
            client.out.flush();
        }
        // reads whose replies are never read: 4 x 128 MiB asked for
        for (int i = 0; i < 4; i++) {
            RawNbdClient client = handshake(gateway, attackers);
            for (int cookie = 0; cookie < 128; cookie++) {
                client.header(0, RawNbdClient.CMD_READ, cookie, (long) cookie * MIB, MIB);
            }
            client.out.flush();
        }
        // handshakes that never finish
        for (int i = 0; i < 200; i++) {
            Socket socket = new Socket("127.0.0.1", gateway.nbdPort);
            attackers.add(socket);
            socket.getOutputStream().write(new byte[]{0, 0});
        }
        // REST requests whose headers never end
        for (int i = 0; i < 50; i++) {
            Socket socket = new Socket("127.0.0.1", gateway.restPort);
            attackers.add(socket);
            OutputStream out = socket.getOutputStream();
            out.write("GET /v1/volumes HTTP/1.1\r\nHost: 127.0.0.1\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
        }
        // every attacker is past the point where it holds what it holds
        for (Socket socket : attackers) {
            assertThat(socket.isClosed()).isFalse();
        }
        assertThat(stillOpen(attackers.get(0))).as("a pinned-payload connection").isTrue();
    }

    /**
     * Every attacker is closed by the gateway within its timeout (30 s for an unfinished
     * handshake, a payload that stopped, replies not read, an unfinished REST request), counted
     * from before the attack began, with some slack for a loaded machine.
     */
    private static void assertClosedInTime(GatewayProcess gateway, List<Socket> attackers, long stuckSince)
            throws IOException {
        long deadline = stuckSince + TimeUnit.MILLISECONDS.toNanos(STUCK_TIMEOUT_MS + SLACK_MS);
        // the bystander is done: no NBD connection may be left (reading would drain the replies a
        // non-reading attacker is being judged for, so it is not read until then)
        gateway.awaitMetric("cgw_nbd_connections 0.0", Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
        for (int i = 0; i < attackers.size(); i++) {
            assertThat(closedByPeer(attackers.get(i), deadline)).as("attacker %d of %d closed within %d ms + %d ms", i,
                    attackers.size(), STUCK_TIMEOUT_MS, SLACK_MS).isTrue();
        }
    }

    /** Reads what is left until the end of the stream: whether it came (EOF or reset) by the deadline. */
    private static boolean closedByPeer(Socket socket, long deadline) throws IOException {
        InputStream in = socket.getInputStream();
        byte[] buffer = new byte[1 << 20];
        while (true) {
            socket.setSoTimeout((int) Math.max(200, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            try {
                if (in.read(buffer) < 0) {
                    return true;
                }
            } catch (SocketTimeoutException e) {
                return false;
            } catch (IOException e) {
                return true; // reset by the server
            }
        }
    }

    private static RawNbdClient handshake(GatewayProcess gateway, List<Socket> attackers) throws IOException {
        RawNbdClient client = new RawNbdClient(gateway.nbdPort);
        attackers.add(client.socket());
        assertThat(client.greet().go("target").type()).isEqualTo(RawNbdClient.REP_ACK);
        return client;
    }

    /** Whether the server sent its greeting rather than closing the connection. */
    private static boolean greeted(Socket socket) {
        try {
            return socket.getInputStream().read() == 'N';
        } catch (IOException e) {
            return false; // reset: closed before the greeting
        }
    }

    /** Whether the server still holds the connection (no EOF within a moment). */
    private static boolean stillOpen(Socket socket) throws IOException {
        socket.setSoTimeout(200);
        InputStream in = socket.getInputStream();
        try {
            return in.read() >= 0;
        } catch (SocketTimeoutException e) {
            return true;
        }
    }

    /**
     * fio's nbd engine on the bystander: 64 KiB blocks at queue depth 8 over 256 MiB, at most
     * {@code rate} bytes/s (0: as fast as it goes); bytes/s written.
     */
    private double fio(GatewayProcess gateway, String rw, int seconds, long rate) throws IOException {
        Path output = dir.resolve("fio-" + rw + ".json");
        List<String> command = new ArrayList<>(List.of("fio", "--name=bystander", "--ioengine=nbd",
                "--uri=" + gateway.nbdUri("bystander"), "--rw=" + rw, "--bs=64k", "--iodepth=8", "--size=256m",
                "--output-format=json", "--output=" + output));
        if (!rw.equals("write")) {
            command.addAll(List.of("--time_based", "--runtime=" + seconds));
        }
        if (rate > 0) {
            command.add("--rate=" + rate);
        }
        run(command.toArray(String[]::new));
        return JSON.readTree(output.toFile()).path("jobs").path(0).path("write").path("bw_bytes").asDouble();
    }
}

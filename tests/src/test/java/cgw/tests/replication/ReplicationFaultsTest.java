package cgw.tests.replication;

import static cgw.tests.replication.ReplicaPair.assertSame;
import static cgw.tests.replication.ReplicaPair.awaitShippedFromNow;
import static cgw.tests.replication.ReplicaPair.awaitStatus;
import static cgw.tests.replication.ReplicaPair.createGroup;
import static cgw.tests.replication.ReplicaPair.status;
import static cgw.tests.replication.ReplicaPair.writeRandom;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool;
import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replication under faults (issue 28): a link cut and a link stall in the middle of an epoch, the
 * replica SIGKILLed while it applies one, the primary SIGKILLed while it ships one, the replica's
 * disk full. Each time the replica keeps its last complete epoch whole, and shipping resumes from
 * the newest epoch both sides hold: never a full copy again.
 */
@Timeout(300)
class ReplicationFaultsTest {
    private static final long MiB = 1 << 20;

    @TempDir
    Path dir;

    /**
     * Both volumes 24 MiB of random data, shipped whole over {@code link}; returns the bytes that
     * took. Each side keeps 50 epochs: none of those a test compares is retired under it.
     */
    private long firstSync(GatewayProcess a, GatewayProcess b, LinkProxy link) throws Exception {
        createGroup(a, "g", "v1:64MiB", "v2:64MiB");
        writeRandom(a, "v1", dir, 0, 24);
        writeRandom(a, "v2", dir, 0, 24);
        a.call(200, "PUT", "/v1/groups/g/replication", "{\"target\":\"" + link.url() + "\",\"targetToken\":\""
                + b.token() + "\",\"intervalMs\":200,\"keep\":50}");
        return awaitShippedFromNow(a, "g").get("bytesShipped").asLong();
    }

    /** 4 MiB of new random data in each volume: an 8 MiB delta. */
    private void writeDelta(GatewayProcess a, int atMib) throws Exception {
        writeRandom(a, "v1", dir, atMib, 4);
        writeRandom(a, "v2", dir, atMib, 4);
    }

    @Test
    void aCutAndAStalledLinkResumeWithoutAFullCopy() throws Exception {
        try (GatewayProcess a = GatewayProcess.start(dir.resolve("a"), dir.resolve("a.err"));
                GatewayProcess b = GatewayProcess.start(dir.resolve("b"), dir.resolve("b.err"));
                LinkProxy link = new LinkProxy(b.restPort)) {
            long full = firstSync(a, b, link);
            assertThat(full).isGreaterThan(48 * MiB);
            link.bandwidth(4 * MiB); // the 8 MiB delta takes 2 s
            writeDelta(a, 30);
            Thread.sleep(1000);
            link.cut();
            awaitStatus(a, "g", "paused by the cut", s -> s.get("state").asText().equals("paused"));
            int snapshotsWhenPaused = snapshotCount(a);
            Thread.sleep(4000); // attempts at 0.4, 0.8, 1.6 s... and knocks in between
            assertThat(snapshotCount(a)).as("the primary's snapshots after 4 s of a cut link: failed cuts are not kept")
                    .isLessThanOrEqualTo(snapshotsWhenPaused + 1);
            link.heal();
            link.bandwidth(Long.MAX_VALUE);
            long afterCut = awaitShippedFromNow(a, "g").get("bytesShipped").asLong() - full;
            assertThat(afterCut).as("bytes shipped for an 8 MiB delta cut once").isBetween(8 * MiB, 18 * MiB);
            assertSame(a, "v1", b, "v1");
            assertSame(a, "v2", b, "v2");

            // a stall shorter than the calls' timeouts: the epoch waits, then goes on
            link.bandwidth(8 * MiB);
            writeDelta(a, 40);
            Thread.sleep(300);
            link.stall();
            Thread.sleep(3000);
            link.heal();
            awaitShippedFromNow(a, "g");
            assertSame(a, "v1", b, "v1");
            assertSame(a, "v2", b, "v2");
            assertThat(Files.readString(dir.resolve("a.err"))).doesNotContain("replication stopped");
        }
    }

    @Test
    void aReplicaKilledMidApplyKeepsItsLastEpochWholeAndResumes() throws Exception {
        Path bData = dir.resolve("b");
        try (GatewayProcess a = GatewayProcess.start(dir.resolve("a"), dir.resolve("a.err"))) {
            GatewayProcess b = GatewayProcess.start(bData, dir.resolve("b.err"));
            int bNbd = b.nbdPort;
            int bRest = b.restPort;
            try (LinkProxy link = new LinkProxy(b.restPort)) {
                long full = firstSync(a, b, link);
                link.bandwidth(4 * MiB);
                writeDelta(a, 30);
                Thread.sleep(1000); // half of the delta is in the replica's heads
                b.kill();
                link.cut();
                try (GatewayProcess revived = GatewayProcess.start(bData, dir.resolve("b2.err"), "--nbd",
                        "127.0.0.1:" + bNbd, "--http", "127.0.0.1:" + bRest)) {
                    // before the primary is back in touch: the last complete epoch, whole
                    long origin = newestOrigin(revived);
                    assertSame(a, "v1@" + origin, revived, "v1");
                    assertSame(a, "v2@" + origin, revived, "v2");
                    link.heal();
                    link.bandwidth(Long.MAX_VALUE);
                    long resumed = awaitShippedFromNow(a, "g").get("bytesShipped").asLong() - full;
                    assertThat(resumed).as("bytes shipped after the replica's restart").isLessThan(18 * MiB);
                    assertSame(a, "v1", revived, "v1");
                    assertSame(a, "v2", revived, "v2");
                }
            }
        }
    }

    @Test
    void aPrimaryKilledMidShipResumesFromTheNewestCommonEpoch() throws Exception {
        Path aData = dir.resolve("a");
        try (GatewayProcess b = GatewayProcess.start(dir.resolve("b"), dir.resolve("b.err"));
                LinkProxy link = new LinkProxy(b.restPort)) {
            long full;
            try (GatewayProcess a = GatewayProcess.start(aData, dir.resolve("a.err"))) {
                full = firstSync(a, b, link);
                link.bandwidth(4 * MiB);
                writeDelta(a, 30);
                Thread.sleep(1000);
                a.kill();
            }
            long origin = newestOrigin(b);
            link.bandwidth(Long.MAX_VALUE);
            try (GatewayProcess a = GatewayProcess.start(aData, dir.resolve("a2.err"))) {
                // the replica held the last complete epoch whole meanwhile (the primary's copy of it is the check)
                assertSame(a, "v1@" + origin, b, "v1@" + newestSnapshot(b));
                long before = status(b, "g").get("bytesShipped").asLong();
                awaitShippedFromNow(a, "g");
                long resumed = status(b, "g").get("bytesShipped").asLong() - before;
                assertThat(resumed).as("bytes received after the primary's restart").isLessThan(10 * MiB);
                assertThat(status(b, "g").get("bytesShipped").asLong()).isLessThan(full + 20 * MiB);
                assertSame(a, "v1", b, "v1");
                assertSame(a, "v2", b, "v2");
            }
        }
    }

    @Test
    void aFullDiskOnTheReplicaPausesShippingUntilSpaceIsFreed() throws Exception {
        Path mount = Files.createDirectories(dir.resolve("small"));
        ExternalTool.run("mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", mount.toString()).assertSuccess();
        try (GatewayProcess a = GatewayProcess.start(dir.resolve("a"), dir.resolve("a.err"));
                GatewayProcess b = GatewayProcess.start(mount.resolve("b"), dir.resolve("b.err"));
                LinkProxy link = new LinkProxy(b.restPort)) {
            firstSync(a, b, link);
            Path ballast = mount.resolve("ballast");
            long room = mount.toFile().getUsableSpace();
            ExternalTool.run("fallocate", "-l", Long.toString(room - 8 * MiB), ballast.toString()).assertSuccess();
            writeRandom(a, "v1", dir, 30, 24);
            JsonNode full = awaitStatus(a, "g", "paused by the full disk",
                    s -> s.get("state").asText().equals("paused") && s.path("error").asText().contains("507"));
            assertThat(full.get("error").asText()).contains("insufficient_storage");
            long origin = newestOrigin(b);
            assertSame(a, "v1@" + origin, b, "v1");
            Files.delete(ballast);
            awaitShippedFromNow(a, "g");
            assertSame(a, "v1", b, "v1");
            assertSame(a, "v2", b, "v2");
        } finally {
            ExternalTool.run("umount", "-l", mount.toString()).assertSuccess();
        }
    }

    /** The primary's snapshot id of the replica's newest complete epoch, from its label ("replica of GW/ID"). */
    private static long newestOrigin(GatewayProcess replica) throws Exception {
        JsonNode snapshots = replica.call(200, "GET", "/v1/snapshots?group=g", null).get("snapshots");
        String label = snapshots.get(snapshots.size() - 1).get("label").asText();
        return Long.parseLong(label.substring(label.lastIndexOf('/') + 1));
    }

    private static int snapshotCount(GatewayProcess gateway) throws Exception {
        return gateway.call(200, "GET", "/v1/snapshots?group=g", null).get("snapshots").size();
    }

    private static long newestSnapshot(GatewayProcess gateway) throws Exception {
        JsonNode snapshots = gateway.call(200, "GET", "/v1/snapshots?group=g", null).get("snapshots");
        return snapshots.get(snapshots.size() - 1).get("id").asLong();
    }
}

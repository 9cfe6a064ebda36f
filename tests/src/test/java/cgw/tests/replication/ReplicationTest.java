package cgw.tests.replication;

import static cgw.tests.replication.ReplicaPair.assertSame;
import static cgw.tests.replication.ReplicaPair.awaitShippedFromNow;
import static cgw.tests.replication.ReplicaPair.awaitStatus;
import static cgw.tests.replication.ReplicaPair.createGroup;
import static cgw.tests.replication.ReplicaPair.qemuIo;
import static cgw.tests.replication.ReplicaPair.replicate;
import static cgw.tests.replication.ReplicaPair.status;
import static cgw.tests.replication.ReplicaPair.writeRandom;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replication between two real gateways (CONTRACT.md v2, "Replication"): a group shipped with its
 * data, zeroes and holes; read-only on the replica; planned failover (demote, promote) that loses
 * nothing; an old primary fenced by the generation; failback that ships only what changed.
 */
@Timeout(300)
class ReplicationTest {
    @TempDir
    Path dir;

    @Test
    void aGroupIsShippedFailedOverAndFailedBack() throws Exception {
        try (GatewayProcess a = GatewayProcess.start(dir.resolve("a"), dir.resolve("a.err"));
                GatewayProcess b = GatewayProcess.start(dir.resolve("b"), dir.resolve("b.err"))) {
            createGroup(a, "db", "wal:64MiB", "data:128MiB");
            writeRandom(a, "wal", dir, 0, 4);
            writeRandom(a, "data", dir, 8, 8);
            qemuIo(a, "wal", "write -q -z 1M 1M", "discard -q 2M 1M", "write -q -P 0x5a 40M 64k").assertSuccess();
            // started as an operator would: the CLI, the replica's token file
            String started = a.cli(Map.of(), "replication", "start", "db", "--target",
                    "http://127.0.0.1:" + b.restPort, "--target-token-file", b.data.resolve("api-token").toString(),
                    "--interval", "200ms", "--keep", "5").assertSuccess().stdout();
            assertThat(started).contains("primary").contains("200.0 ms");
            JsonNode first = awaitStatus(a, "db", "replicating", s -> s.get("state").asText().equals("replicating"));
            assertThat(a.cli(Map.of(), "replication", "status", "db").assertSuccess().stdout())
                    .contains("replicating");
            String metrics = a.rest("GET", "/metrics", null).body();
            assertThat(metrics).contains("cgw_replication_lag_seconds{group=\"db\"}")
                    .contains("cgw_replication_bytes_total{group=\"db\"}")
                    .containsPattern("cgw_replication_epochs_total\\{group=\"db\"\\} [1-9]");
            assertThat(first.get("role").asText()).isEqualTo("primary");
            assertThat(first.get("generation").asLong()).isEqualTo(1);
            assertSame(a, "wal", b, "wal");
            assertSame(a, "data", b, "data");

            // a delta: only what changed travels, and the replica follows
            long shippedBefore = status(a, "db").get("bytesShipped").asLong();
            writeRandom(a, "data", dir, 100, 1);
            qemuIo(a, "wal", "discard -q 0 1M").assertSuccess();
            awaitShippedFromNow(a, "db");
            assertSame(a, "wal", b, "wal");
            assertSame(a, "data", b, "data");
            long delta = status(a, "db").get("bytesShipped").asLong() - shippedBefore;
            assertThat(delta).as("bytes shipped for 1 MiB of new random data and a trim")
                    .isBetween(1L << 20, (11L << 20) / 10);

            // the replica: read-only, snapshots are the shipped epochs, no snapshots of its own
            JsonNode replica = status(b, "db");
            assertThat(replica.get("role").asText()).isEqualTo("replica");
            assertThat(replica.get("state").asText()).isEqualTo("replicating");
            assertThat(qemuIo(b, "wal", "write -q 0 4k").exitCode()).isNotZero();
            assertThat(b.call(200, "GET", "/v1/snapshots?group=db", null).get("snapshots").size()).isBetween(1, 5);
            b.call(409, "POST", "/v1/groups/db/snapshots", null);
            assertThat(b.call(409, "POST", "/v1/snapshots", "{\"volumes\":[\"wal\"]}").get("detail").asText())
                    .as("an ad-hoc snapshot of a replica's volume").contains("replica here");
            // an epoch the replica does not have open: a 409 the primary answers by beginning again
            JsonNode lost = b.call(409, "POST", "/v1/replication/db/epochs/current/commit", "{\"generation\":1,"
                    + "\"primary\":\"elsewhere\",\"origin\":\"elsewhere/999999\",\"bodies\":0,\"bytes\":0}");
            assertThat(lost.get("error").asText()).isEqualTo("epoch_lost");

            // planned failover: nothing written before the demote is lost
            writeRandom(a, "wal", dir, 20, 2);
            String demoted = a.cli(Map.of(), "group", "demote", "db").assertSuccess().stdout();
            assertThat(demoted).contains("FINAL SNAPSHOT");
            assertThat(qemuIo(a, "wal", "write -q 0 4k").exitCode()).as("a write to a demoted primary").isNotZero();
            assertThat(status(a, "db").get("state").asText()).isEqualTo("demoted");
            assertThat(b.cli(Map.of(), "group", "promote", "db").assertSuccess().stdout()).contains("wal,data");
            assertSame(a, "wal", b, "wal");
            assertSame(a, "data", b, "data");
            assertThat(status(b, "db").get("generation").asLong()).isEqualTo(2);
            qemuIo(b, "data", "write -q -P 0x77 30M 1M").assertSuccess();
            assertThat(status(b, "db").get("bytesShipped").asLong()).as("a promoted replica has shipped nothing")
                    .isZero();

            // failback: the old primary becomes the replica; only the new writes travel
            replicate(b, a, "db", 200, 5);
            JsonNode back = awaitStatus(b, "db", "replicating", s -> s.get("state").asText().equals("replicating"));
            assertThat(back.get("bytesShipped").asLong()).as("bytes shipped back").isLessThan(1L << 20);
            awaitShippedFromNow(b, "db");
            assertThat(status(a, "db").get("role").asText()).isEqualTo("replica");
            assertSame(b, "wal", a, "wal");
            assertSame(b, "data", a, "data");
            assertThat(a.stop()).isZero();
            assertThat(b.stop()).isZero();
        }
    }

    @Test
    void aRevivedOldPrimaryIsFencedAndItsLaterWritesRolledBackAtFailback() throws Exception {
        Path aData = dir.resolve("a");
        GatewayProcess b = GatewayProcess.start(dir.resolve("b"), dir.resolve("b.err"));
        try (b) {
            long shippedAtFailback;
            try (GatewayProcess a = GatewayProcess.start(aData, dir.resolve("a.err"))) {
                createGroup(a, "app", "disk:64MiB");
                writeRandom(a, "disk", dir, 0, 16);
                replicate(a, b, "app", 200, 3);
                awaitStatus(a, "app", "replicating", s -> s.get("state").asText().equals("replicating"));
                awaitShippedFromNow(a, "app");
                a.kill(); // the primary's site is lost
            }
            b.call(200, "POST", "/v1/groups/app/promote", null);
            writeRandom(b, "disk", dir, 32, 1);
            try (GatewayProcess a = GatewayProcess.start(aData, dir.resolve("a2.err"))) {
                // the revived primary resumes shipping by itself, and is refused for its generation
                JsonNode fenced = awaitStatus(a, "app", "failed", s -> s.get("state").asText().equals("failed"));
                assertThat(fenced.get("error").asText()).contains("generation");
                // it still takes writes of its own (its guests never heard of the failover)...
                writeRandom(a, "disk", dir, 40, 2);
                // ...which the failback rolls back there, shipping only what the new primary changed
                replicate(b, a, "app", 200, 3);
                JsonNode back = awaitStatus(b, "app", "replicating",
                        s -> s.get("state").asText().equals("replicating"));
                shippedAtFailback = back.get("bytesShipped").asLong();
                awaitShippedFromNow(b, "app");
                assertSame(b, "disk", a, "disk");
                assertThat(status(a, "app").get("generation").asLong()).isEqualTo(2);
                assertThat(a.stop()).isZero();
            }
            assertThat(shippedAtFailback).as("bytes shipped by the failback, 16 MiB in the volume")
                    .isLessThan(3L << 20);
            assertThat(b.stop()).isZero();
        }
    }

    @Test
    void badRequestsAreRefusedWithTheirReason() throws Exception {
        try (GatewayProcess a = GatewayProcess.start(dir.resolve("a"), dir.resolve("a.err"));
                GatewayProcess b = GatewayProcess.start(dir.resolve("b"), dir.resolve("b.err"))) {
            createGroup(a, "g", "v:16MiB");
            String url = "http://127.0.0.1:" + b.restPort;
            String token = b.token();
            assertThat(a.call(400, "PUT", "/v1/groups/g/replication", "{\"targetToken\":\"x\"}").toString())
                    .contains("target");
            assertThat(a.call(400, "PUT", "/v1/groups/g/replication",
                    "{\"target\":\"ftp://x\",\"targetToken\":\"t\"}").toString()).contains("http");
            assertThat(a.call(400, "PUT", "/v1/groups/g/replication",
                    "{\"target\":\"" + url + "\",\"targetToken\":\"t\",\"intervalMs\":50}").toString())
                    .contains("intervalMs");
            assertThat(a.call(400, "PUT", "/v1/groups/g/replication",
                    "{\"target\":\"" + url + "\",\"targetToken\":\"t\",\"keep\":0}").toString()).contains("keep");
            assertThat(a.call(400, "PUT", "/v1/groups/g/replication", "{\"target\":\"https://h:1\","
                    + "\"targetToken\":\"t\",\"targetCaCert\":\"not a certificate\"}").toString())
                    .contains("targetCaCert");
            a.call(404, "PUT", "/v1/groups/nope/replication", "{\"target\":\"" + url + "\",\"targetToken\":\"t\"}");
            JsonNode idle = a.call(200, "GET", "/v1/groups/g/replication", null);
            assertThat(idle.get("state").asText()).isEqualTo("stopped");
            a.call(409, "POST", "/v1/groups/g/demote", null);
            a.call(409, "POST", "/v1/groups/g/promote", null);
            a.call(404, "DELETE", "/v1/groups/g/replication", null);

            // a wrong token: the replica refuses, the primary says why and stops
            a.call(200, "PUT", "/v1/groups/g/replication", "{\"target\":\"" + url + "\",\"targetToken\":\"wrong\"}");
            JsonNode wrong = awaitStatus(a, "g", "failed", s -> s.get("state").asText().equals("failed"));
            assertThat(wrong.get("error").asText()).contains("401");

            // a group of that name on the replica that is not a replica: 409, nothing of it touched
            createGroup(b, "g", "v:16MiB");
            qemuIo(b, "v", "write -q -P 0x42 0 1M").assertSuccess();
            a.call(200, "PUT", "/v1/groups/g/replication", "{\"target\":\"" + url + "\",\"targetToken\":\"" + token
                    + "\"}");
            JsonNode taken = awaitStatus(a, "g", "failed", s -> s.get("state").asText().equals("failed"));
            assertThat(taken.get("error").asText()).contains("409").contains("not a replica");
            qemuIo(b, "v", "read -q -P 0x42 0 1M").assertSuccess();
            a.call(204, "DELETE", "/v1/groups/g/replication", null);
            assertThat(a.call(200, "GET", "/v1/groups/g/replication", null).get("state").asText())
                    .isEqualTo("stopped");
        }
    }

    @Test
    void aGroupIsDeletedOnlyOnceReplicationLetsItGo() throws Exception {
        try (GatewayProcess a = GatewayProcess.start(dir.resolve("a"), dir.resolve("a.err"));
                GatewayProcess b = GatewayProcess.start(dir.resolve("b"), dir.resolve("b.err"))) {
            shipGroupOfOneVolume(a, b, 3);

            assertThat(a.call(409, "DELETE", "/v1/groups/g", null).toString()).contains("stop replication first");
            assertThat(b.call(409, "DELETE", "/v1/groups/g", null).toString()).contains("replica")
                    .contains("promote");
            assertThat(status(a, "g").get("state").asText()).isNotEqualTo("stopped");

            // stopped: the group goes, and with it what a knew of its replication
            a.call(204, "DELETE", "/v1/groups/g/replication", null);
            a.call(204, "DELETE", "/v1/groups/g", null);
            a.call(404, "GET", "/v1/groups/g/replication", null);
            a.call(201, "POST", "/v1/groups", "{\"name\":\"g\",\"volumes\":[\"v\"]}");
            JsonNode fresh = status(a, "g");
            assertThat(fresh.get("state").asText()).isEqualTo("stopped");
            assertThat(fresh.get("bytesShipped").asLong()).as("bytes shipped by the new group g").isZero();
            qemuIo(a, "v", "read -q -P 0x17 0 1M").assertSuccess();

            // the replica: once promoted it is a group of its own, and may go
            b.call(200, "POST", "/v1/groups/g/promote", null);
            b.call(204, "DELETE", "/v1/groups/g", null);
            qemuIo(b, "v", "read -q -P 0x17 0 1M").assertSuccess();
            qemuIo(b, "v", "write -q -P 0x18 0 4k").assertSuccess();
        }
    }

    @Test
    void aReplicaConnectionReadsTheEpochItOpenedUntilItCloses() throws Exception {
        try (GatewayProcess a = GatewayProcess.start(dir.resolve("a"), dir.resolve("a.err"));
                GatewayProcess b = GatewayProcess.start(dir.resolve("b"), dir.resolve("b.err"))) {
            shipGroupOfOneVolume(a, b, 1);

            // a reader on the replica: a read, 4 s of nothing, the same read on the same connection
            Process reader = new ProcessBuilder("qemu-io", "-r", "-f", "raw", "-c", "read -q -P 0x17 0 1M", "-c",
                    "sleep 4000", "-c", "read -q -P 0x17 0 1M", b.nbdUri("v")).redirectErrorStream(true).start();
            Thread.sleep(1000);
            qemuIo(a, "v", "write -q -P 0x18 0 1M").assertSuccess();
            awaitShippedFromNow(a, "g");
            awaitShippedFromNow(a, "g"); // with keep 1, the epoch the reader opened is past its time now
            assertThat(reader.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            String said = new String(reader.getInputStream().readAllBytes());
            assertThat(reader.exitValue()).as("qemu-io reading the replica: %s", said).isZero();

            // a new connection sees the newest
            cgw.tests.ExternalTool.run("qemu-io", "-r", "-f", "raw", "-c", "read -q -P 0x18 0 1M", b.nbdUri("v"))
                    .assertSuccess();
            awaitShippedFromNow(a, "g");
            assertThat(b.call(200, "GET", "/v1/snapshots?group=g", null).get("snapshots").size())
                    .as("replicated snapshots kept once the reader is gone").isEqualTo(1);
        }
    }

    /** Group g of volume v (its first MiB 0x17) shipped from a to b every 200 ms, its first epoch complete on b. */
    private static void shipGroupOfOneVolume(GatewayProcess a, GatewayProcess b, int keep) throws Exception {
        createGroup(a, "g", "v:16MiB");
        qemuIo(a, "v", "write -q -P 0x17 0 1M").assertSuccess();
        replicate(a, b, "g", 200, keep);
        awaitShippedFromNow(a, "g");
    }

    @Test
    void aReplicaRestartResumesFromTheNewestEpochBothHold() throws Exception {
        Path bData = dir.resolve("b");
        try (GatewayProcess a = GatewayProcess.start(dir.resolve("a"), dir.resolve("a.err"))) {
            int bNbd;
            int bRest;
            try (GatewayProcess b = GatewayProcess.start(bData, dir.resolve("b.err"))) {
                bNbd = b.nbdPort;
                bRest = b.restPort;
                createGroup(a, "g", "v1:64MiB", "v2:64MiB");
                writeRandom(a, "v1", dir, 0, 16);
                writeRandom(a, "v2", dir, 0, 16);
                replicate(a, b, "g", 200, 3);
                awaitShippedFromNow(a, "g");
                b.kill();
            }
            long before = status(a, "g").get("bytesShipped").asLong();
            writeRandom(a, "v2", dir, 50, 1);
            awaitStatus(a, "g", "paused", s -> s.get("state").asText().equals("paused"));
            try (GatewayProcess b = GatewayProcess.start(bData, dir.resolve("b2.err"), "--nbd", "127.0.0.1:" + bNbd,
                    "--http", "127.0.0.1:" + bRest)) {
                awaitShippedFromNow(a, "g");
                long resumed = status(a, "g").get("bytesShipped").asLong() - before;
                assertThat(resumed).as("bytes shipped after the restart (32 MiB in the group)").isLessThan(2L << 20);
                assertSame(a, "v1", b, "v1");
                assertSame(a, "v2", b, "v2");
            }
        }
    }
}

package cgw.tests.pg;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.Campaign;
import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Disaster recovery with PostgreSQL as the witness (issue 28): WAL and data on two volumes of one
 * group under pgbench, shipped every second to a second gateway. A planned failover (demote, then
 * promote) keeps every transaction pgbench saw committed. Then, round after round, the primary
 * gateway is SIGKILLed at a random moment and the replica promoted: PostgreSQL recovers there,
 * the invariants and amcheck hold, and every transaction acknowledged before the promoted epoch
 * was cut is there; the revived old primary becomes the replica by failback, and the next round
 * fails over the other way.
 */
@Timeout(value = 30, unit = TimeUnit.MINUTES)
class PgFailoverTest {
    private static final int SCALE = 5;
    private static final int CLIENTS = 4;
    private static final long INTERVAL_MS = 1000;
    private static final int UNPLANNED = Campaign.pick(1, 10);
    /** The newest epoch complete on the replica may be this much older than the kill (RPO of seconds). */
    private static final long MAX_LOSS_WINDOW_MS = 5 * INTERVAL_MS;

    @TempDir
    Path dir;

    private final Random random = new Random(Long.getLong("cgw.seed", System.nanoTime()));

    /** One gateway of the pair: its data directory and NBD socket survive its restarts. */
    private final class Site {
        final String name;
        final Path data;
        final Path socket;
        GatewayProcess gateway;
        PgSite pg;

        Site(String name) {
            this.name = name;
            this.data = dir.resolve(name);
            this.socket = dir.resolve(name + ".sock");
        }

        void start() throws Exception {
            Files.deleteIfExists(socket);
            gateway = GatewayProcess.start(data, dir.resolve(name + "-" + System.nanoTime() + ".err"), "--nbd-socket",
                    socket.toString());
        }

        JsonNode status() throws Exception {
            return gateway.call(200, "GET", "/v1/groups/pg/replication", null);
        }
    }

    @Test
    void postgresqlSurvivesPlannedAndUnplannedFailoversAndFailbacks() throws Exception {
        PgOnTwoVolumes.requireTools();
        // the postgres user must reach the mounts and run directories below it
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Site primary = new Site("a");
        Site replica = new Site("b");
        primary.start();
        replica.start();
        RecoveryCheck check = new RecoveryCheck(Files.createDirectory(dir.resolve("checks")), SCALE);
        List<String> figures = new ArrayList<>();
        try {
            for (String volume : List.of(PgOnTwoVolumes.WAL_VOLUME, PgOnTwoVolumes.DATA_VOLUME)) {
                primary.gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"" + volume + "\",\"size\":\"512MiB\"}");
            }
            primary.gateway.call(201, "POST", "/v1/groups", "{\"name\":\"pg\",\"volumes\":[\""
                    + PgOnTwoVolumes.WAL_VOLUME + "\",\"" + PgOnTwoVolumes.DATA_VOLUME + "\"]}");
            primary.pg = PgSite.create(dir.resolve("pg-0"), primary.socket, SCALE);
            long history = 0;
            primary.pg.startLoad(CLIENTS, logPrefix(0));
            replicate(primary, replica);

            // planned: demote under load, promote; nothing pgbench saw committed is lost
            Thread.sleep(3000);
            primary.pg.requireLoad();
            primary.gateway.call(200, "POST", "/v1/groups/pg/demote", null);
            List<Long> acknowledged = primary.pg.completedTransactions();
            primary.pg.abandon();
            replica.gateway.call(200, "POST", "/v1/groups/pg/promote", null);
            RecoveryCheck.Verdict planned = recoverAt(replica, check, "planned", 1);
            assertThat(planned.historyRows() - history).as("transactions on the promoted replica, of "
                    + acknowledged.size() + " pgbench saw committed").isGreaterThanOrEqualTo(acknowledged.size());
            figures.add("planned: " + acknowledged.size() + " committed, " + (planned.historyRows() - history)
                    + " on the replica");
            history = planned.historyRows();
            Site swap = primary;
            primary = replica;
            replica = swap; // demoted, still running: the failback makes it the replica
            replicate(primary, replica);

            for (int round = 2; round < 2 + UNPLANNED; round++) {
                Thread.sleep(2000 + random.nextInt(4000));
                primary.pg.requireLoad();
                long killedAt = System.currentTimeMillis();
                primary.gateway.kill();
                acknowledged = primary.pg.completedTransactions();
                primary.pg.abandon();
                JsonNode before = replica.status();
                long cutAt = Instant.parse(before.get("lastSnapshotAt").asText()).toEpochMilli();
                long promoteStart = System.nanoTime();
                replica.gateway.call(200, "POST", "/v1/groups/pg/promote", null);
                long promoteMs = (System.nanoTime() - promoteStart) / 1_000_000;
                RecoveryCheck.Verdict verdict = recoverAt(replica, check, "unplanned-" + round, round);
                long beforeCut = acknowledged.stream().filter(t -> t / 1000 < cutAt).count();
                assertThat(verdict.historyRows() - history)
                        .as("round %d: transactions on the promoted replica; %d acknowledged before its epoch was cut",
                                round, beforeCut)
                        .isGreaterThanOrEqualTo(beforeCut)
                        .isLessThanOrEqualTo(acknowledged.size() + CLIENTS);
                assertThat(killedAt - cutAt).as("round %d: age of the promoted epoch at the kill, ms", round)
                        .isLessThanOrEqualTo(MAX_LOSS_WINDOW_MS);
                figures.add("unplanned " + round + ": " + acknowledged.size() + " committed, "
                        + (verdict.historyRows() - history) + " on the replica, " + beforeCut
                        + " before its epoch was cut " + (killedAt - cutAt) + " ms before the kill; promote "
                        + promoteMs + " ms");
                history = verdict.historyRows();
                // the old primary comes back, is fenced, and becomes the replica by failback
                primary.pg = null;
                primary.start();
                swap = primary;
                primary = replica;
                replica = swap;
                Site revived = replica;
                // refused by the new primary (409), or not reaching it when its port changed since
                Awaitility.await("the revived old primary does not ship").atMost(Duration.ofSeconds(30))
                        .until(() -> List.of("failed", "paused").contains(revived.status().get("state").asText()));
                replicate(primary, replica);
            }
        } finally {
            figures.forEach(System.out::println);
            for (Site site : List.of(primary, replica)) {
                if (site.pg != null) {
                    site.pg.close();
                }
                if (site.gateway != null && site.gateway.process.isAlive()) {
                    site.gateway.stop();
                }
            }
        }
    }

    /** Starts shipping from {@code from} to {@code to} and waits until an epoch is complete there. */
    private void replicate(Site from, Site to) throws Exception {
        from.gateway.call(200, "PUT", "/v1/groups/pg/replication", "{\"target\":\"http://127.0.0.1:"
                + to.gateway.restPort + "\",\"targetToken\":\"" + to.gateway.token() + "\",\"intervalMs\":"
                + INTERVAL_MS + ",\"keep\":5}");
        Awaitility.await("replicating from " + from.name + " to " + to.name).atMost(Duration.ofSeconds(120))
                .pollInterval(Duration.ofMillis(200))
                .until(() -> from.status().get("state").asText().equals("replicating"));
    }

    /** PostgreSQL on the promoted site's volumes: recovered, checked, and taking pgbench load again. */
    private RecoveryCheck.Verdict recoverAt(Site site, RecoveryCheck check, String name, int round) throws Exception {
        site.pg = PgSite.attach(dir.resolve("pg-" + round), site.socket);
        RecoveryCheck.Verdict verdict = check.inspect(name, site.pg.server);
        System.out.println(verdict);
        assertThat(verdict.problems()).as(name + ": invariants and amcheck on the promoted replica").isEmpty();
        site.pg.startLoad(CLIENTS, logPrefix(round));
        return verdict;
    }

    private Path logPrefix(int round) throws Exception {
        return Files.createDirectories(dir.resolve("pgbench-" + round)).resolve("log");
    }
}

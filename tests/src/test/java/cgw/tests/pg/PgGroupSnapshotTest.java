package cgw.tests.pg;

import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proof that group snapshots are crash-consistent, with PostgreSQL as the witness: its WAL and
 * its data on two cgw volumes, pgbench writing, snapshots taken through the group barrier; every
 * snapshot must recover, keep pgbench's invariants and pass amcheck. The negative control shows that
 * the check catches an inconsistent pair: copies of the two volumes taken one after the other.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class PgGroupSnapshotTest {
    private static final int SCALE = 5;
    private static final int CLIENTS = 4;
    private static final int SNAPSHOTS = 5;
    private static final long SNAPSHOT_SPACING_WAL_BYTES = 3 << 20;
    private static final int CONTROL_ATTEMPTS = 3;

    @TempDir
    static Path dir; // static: a per-class instance's fields are not ready in @BeforeAll
    private PgOnTwoVolumes pg;
    private RecoveryCheck check;
    /** Raw copies of the volumes, checked as pairs. */
    private Path copies;

    @BeforeAll
    void start() throws Exception {
        PgOnTwoVolumes.requireTools();
        pg = PgOnTwoVolumes.start(dir, SCALE, CLIENTS);
        check = new RecoveryCheck(Files.createDirectory(dir.resolve("checks")), SCALE);
        copies = Files.createDirectory(dir.resolve("copies"));
    }

    @AfterAll
    void stop() {
        if (pg != null) {
            pg.close();
        }
    }

    @Test
    void everyGroupSnapshotTakenUnderPgbenchRecoversConsistently() throws Exception {
        pg.gateway.call(201, "POST", "/v1/groups", "{\"name\":\"pg\",\"volumes\":[\"" + PgOnTwoVolumes.WAL_VOLUME
                + "\",\"" + PgOnTwoVolumes.DATA_VOLUME + "\"]}");
        List<Long> snapshots = new ArrayList<>();
        for (int i = 0; i < SNAPSHOTS; i++) {
            // a checkpoint between snapshots, so each falls in another checkpoint cycle (a checkpoint is
            // what tears the pairs of the control), and each further into its cycle than the last
            pg.awaitCheckpointAfter(pg.walInsertLsn());
            pg.awaitWalInserted(i * SNAPSHOT_SPACING_WAL_BYTES);
            pg.requireLoad();
            JsonNode snapshot = pg.gateway.call(201, "POST", "/v1/groups/pg/snapshots",
                    "{\"label\":\"pgbench-" + i + "\"}");
            assertThat(snapshot.get("volumes").toString()).as("snapshot %s", snapshot)
                    .contains(PgOnTwoVolumes.WAL_VOLUME, PgOnTwoVolumes.DATA_VOLUME);
            snapshots.add(snapshot.get("id").asLong());
        }
        List<RecoveryCheck.Verdict> verdicts = new ArrayList<>();
        for (long id : snapshots) {
            verdicts.add(checkClone(id));
        }
        // the read-only exports VOLUME@ID, which backups read, hold the same pair; the first snapshot's
        // have diverged most from the heads by now
        long first = snapshots.get(0);
        Path wal = copies.resolve("export-" + first + ".wal");
        Path data = copies.resolve("export-" + first + ".data");
        pg.copy(PgOnTwoVolumes.WAL_VOLUME + "@" + first, wal);
        pg.copy(PgOnTwoVolumes.DATA_VOLUME + "@" + first, data);
        RecoveryCheck.Verdict exported = check.check("export-" + first, wal, data);
        Files.delete(wal);
        Files.delete(data);
        verdicts.forEach(System.out::println);
        System.out.println(exported);
        assertThat(verdicts).as("every group snapshot recovers consistently")
                .allMatch(RecoveryCheck.Verdict::consistent);
        assertThat(exported).as("the read-only exports of snapshot %d", first)
                .returns(List.of(), RecoveryCheck.Verdict::problems)
                .returns(verdicts.get(0).historyRows(), RecoveryCheck.Verdict::historyRows);
        assertThat(verdicts).as("each was a crash image of a running server")
                .allMatch(RecoveryCheck.Verdict::crashRecovered);
        assertThat(verdicts.stream().mapToLong(RecoveryCheck.Verdict::historyRows).toArray())
                .as("pgbench committed transactions between the snapshots").isSorted().doesNotHaveDuplicates();
    }

    /** Clones group snapshot {@code id}, attaches the clones through nbdfuse and checks them. */
    private RecoveryCheck.Verdict checkClone(long id) throws Exception {
        JsonNode clone = pg.gateway.call(201, "POST", "/v1/snapshots/" + id + "/clone",
                "{\"prefix\":\"c" + id + "-\"}").get("volumes");
        String wal = clone.get(PgOnTwoVolumes.WAL_VOLUME).asText();
        String data = clone.get(PgOnTwoVolumes.DATA_VOLUME).asText();
        RecoveryCheck.Verdict verdict;
        try (Teardown teardown = new Teardown()) {
            Path fuse = Files.createDirectory(dir.resolve("clone-" + id));
            Path walFile = Ext4OverNbd.nbdfuse(pg.uri(wal), fuse.resolve(wal), teardown);
            Path dataFile = Ext4OverNbd.nbdfuse(pg.uri(data), fuse.resolve(data), teardown);
            verdict = check.check("snapshot-" + id, walFile, dataFile);
        }
        pg.gateway.call(204, "DELETE", "/v1/volumes/" + wal, null);
        pg.gateway.call(204, "DELETE", "/v1/volumes/" + data, null);
        return verdict;
    }

    /**
     * The reference that shows the check does not fail everything, and that each of its parts can
     * fail. A pair copied while both filesystems are frozen, the WAL one first, is consistent under
     * the same load: fsfreeze flushes a filesystem and blocks its writers, and PostgreSQL writes a
     * data page only after the WAL describing it is durable, which no WAL gets once its filesystem
     * is frozen. That pair must pass; tampered with afterwards (one branch's balance changed alone,
     * one account row changed without its index entry), it must fail both the invariants and amcheck.
     */
    @Test
    void aPairCopiedUnderFsfreezePassesTheCheckAndFailsItOnceTamperedWith() throws Exception {
        pg.awaitCheckpointAfter(pg.walInsertLsn()); // pgbench has been at it for a checkpoint cycle
        Path wal = copies.resolve("frozen.wal");
        Path data = copies.resolve("frozen.data");
        freeze(pg.walMount);
        try {
            freeze(pg.dataMount);
            try {
                pg.copy(PgOnTwoVolumes.WAL_VOLUME, wal);
                pg.copy(PgOnTwoVolumes.DATA_VOLUME, data);
            } finally {
                thaw(pg.dataMount);
            }
        } finally {
            thaw(pg.walMount);
        }
        RecoveryCheck.Verdict frozen = check.check("frozen", wal, data);
        System.out.println(frozen);
        assertThat(frozen.problems()).as("a pair copied under fsfreeze is consistent").isEmpty();
        assertThat(frozen.crashRecovered()).as("the frozen pair is a crash image").isTrue();
        assertThat(frozen.historyRows()).as("pgbench transactions in the frozen pair").isPositive();

        check.tamper("frozen", wal, data, server -> {
            server.query("UPDATE pgbench_branches SET bbalance = bbalance + 1 WHERE bid = 1;");
            // an index that is not ready takes no entries, as during CREATE INDEX CONCURRENTLY
            String index = "indexrelid = 'pgbench_accounts_pkey'::regclass";
            server.query("UPDATE pg_index SET indisready = false WHERE " + index + ";");
            server.query("UPDATE pgbench_accounts SET aid = -aid WHERE aid = 1;"
                    + " UPDATE pg_index SET indisready = true WHERE " + index + ";");
        });
        RecoveryCheck.Verdict tampered = check.check("tampered", wal, data);
        System.out.println(tampered);
        assertThat(tampered.problems()).as("what the check finds in the tampered pair")
                .anyMatch(problem -> problem.startsWith("pgbench sums differ: sum(bbalance)=" + (frozen.sum() + 1)))
                .anyMatch(problem -> problem.startsWith("amcheck: index pgbench_accounts_pkey:")
                        && problem.contains("lacks matching index tuple"));
    }

    /**
     * The negative control. Without the barrier, the WAL volume is copied first and the data volume
     * only after the live server has completed a checkpoint whose record lies beyond everything the
     * WAL copy can hold. A checkpoint first flushes the data files, then writes its record to the
     * WAL, then rewrites pg_control (on the data volume) to point at that record. So the data copy
     * holds pages and a pg_control newer than the WAL copy: the write-ahead rule, WAL durable before
     * the data it describes, is broken across the pair, and recovery cannot find the checkpoint it is
     * told to start from ("could not locate a valid checkpoint record"); where it could, pages newer
     * than the WAL would break the invariants or amcheck. (The other order, data first, is what a
     * base backup is: recovery replays the newer WAL over it, so it would prove nothing.) Each copy
     * takes a moment and pgbench goes on meanwhile, so an attempt that happens to come out
     * consistent is retried; one detection is required.
     */
    @Test
    void copiesTakenOneAfterTheOtherUnderPgbenchAreCaughtAsInconsistent() throws Exception {
        List<RecoveryCheck.Verdict> attempts = new ArrayList<>();
        for (int i = 1; i <= CONTROL_ATTEMPTS && attempts.stream().allMatch(RecoveryCheck.Verdict::consistent); i++) {
            pg.requireLoad();
            Path wal = copies.resolve("copies-" + i + ".wal");
            Path data = copies.resolve("copies-" + i + ".data");
            pg.copy(PgOnTwoVolumes.WAL_VOLUME, wal);
            pg.awaitCheckpointAfter(pg.walInsertLsn());
            pg.copy(PgOnTwoVolumes.DATA_VOLUME, data);
            attempts.add(check.check("copies-" + i, wal, data));
            Files.delete(wal);
            Files.delete(data);
        }
        attempts.forEach(System.out::println);
        assertThat(attempts).as("the check catches at least one pair copied one volume after the other")
                .anyMatch(verdict -> !verdict.consistent());
    }

    private static void freeze(Path mount) {
        run("fsfreeze", "--freeze", mount.toString()).assertSuccess();
    }

    private static void thaw(Path mount) {
        run("fsfreeze", "--unfreeze", mount.toString()).assertSuccess();
    }
}

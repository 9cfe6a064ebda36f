package cgw.tests.pg;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The checker: given a WAL volume and a data volume as they were captured together (as files:
 * nbdfuse files of clones, or raw copies), decides whether PostgreSQL recovers from them to a
 * consistent state. It mounts both, starts a server on them (crash recovery), then checks pgbench's
 * invariants and runs amcheck on every table and btree index. Runs on the test thread; leaves
 * nothing mounted or running, and reports what it found rather than throwing.
 */
final class RecoveryCheck {
    /** Findings of one check are cut to this many lines; the count of the rest is kept. */
    private static final int MAX_LISTED_PROBLEMS = 20;

    /** What {@link #check} found; {@link #consistent} when it found nothing. */
    record Verdict(String pair, List<String> problems, long historyRows, long sum, boolean crashRecovered) {
        boolean consistent() {
            return problems.isEmpty();
        }

        @Override
        public String toString() {
            return pair + (consistent()
                    ? ": consistent, " + historyRows + " pgbench transactions, balances summing to " + sum
                            + (crashRecovered ? " after crash recovery" : " (no crash recovery ran)")
                    : ": INCONSISTENT: " + String.join("; ", problems));
        }
    }

    private final Path workDir;
    private final int scale;

    /** Checks clusters made by {@code pgbench -i -s scale}, mounting them below {@code workDir}. */
    RecoveryCheck(Path workDir, int scale) {
        this.workDir = workDir;
        this.scale = scale;
    }

    /** Checks the pair named {@code pair}: the WAL volume in {@code walImage}, the data volume in {@code dataImage}. */
    Verdict check(String pair, Path walImage, Path dataImage) throws IOException {
        return recover(pair, walImage, dataImage, server -> inspect(pair, server));
    }

    /** The invariants and amcheck on a server that recovered the pair named {@code pair}. */
    Verdict inspect(String pair, PgServer server) {
        boolean crashRecovered = !server.logLines("automatic recovery in progress").isEmpty();
        List<String> problems = new ArrayList<>();
        long[] rows = checkInvariants(server, problems);
        problems.addAll(amcheck(server));
        if (problems.size() > MAX_LISTED_PROBLEMS) {
            int more = problems.size() - MAX_LISTED_PROBLEMS;
            problems = new ArrayList<>(problems.subList(0, MAX_LISTED_PROBLEMS));
            problems.add("and " + more + " more");
        }
        return new Verdict(pair, problems, rows[0], rows[1], crashRecovered);
    }

    /**
     * Recovers the pair as {@link #check} does and lets {@code change} alter it, so that a test can
     * show the check failing; fails unless the pair recovers.
     */
    void tamper(String pair, Path walImage, Path dataImage, Consumer<PgServer> change) throws IOException {
        Verdict failed = recover(pair + "-tamper", walImage, dataImage, server -> {
            change.accept(server);
            return null;
        });
        assertThat(failed).as("the pair to tamper with recovers").isNull();
    }

    /**
     * Mounts both images, starts PostgreSQL on them (crash recovery) and returns what {@code then}
     * makes of the running server; a pair that does not get that far is a failed verdict. Stops
     * the server and unmounts both before returning.
     */
    private Verdict recover(String pair, Path walImage, Path dataImage, Function<PgServer, Verdict> then)
            throws IOException {
        Path dir = Files.createDirectories(workDir.resolve(pair));
        PgServer.chown(dir);
        try (Teardown teardown = new Teardown()) {
            Path walMount = dir.resolve("wal");
            Path dataMount = dir.resolve("data");
            for (Path[] volume : new Path[][]{{walImage, walMount}, {dataImage, dataMount}}) {
                ExternalTool.Result mounted = Ext4OverNbd.mountImage(volume[0], volume[1], teardown);
                if (mounted.exitCode() != 0) {
                    return failed(pair,
                            "the ext4 filesystem of " + volume[0] + " does not mount: " + mounted.stderr().strip());
                }
            }
            Path pgdata = dataMount.resolve(PgOnTwoVolumes.DATA_DIR);
            Path walDir = walMount.resolve(PgOnTwoVolumes.WAL_DIR);
            if (!Files.isDirectory(pgdata) || !Files.isDirectory(walDir)) {
                return failed(pair, "no data directory " + pgdata + " or no WAL directory " + walDir);
            }
            // initdb --waldir made pg_wal an absolute link to the live WAL mount: point it at this pair's WAL
            Files.deleteIfExists(pgdata.resolve("pg_wal"));
            Files.createSymbolicLink(pgdata.resolve("pg_wal"), walDir);
            // the running server's lock file names a PID that is alive on this host, so the copy would
            // refuse to start; after a real crash that process is gone with the machine
            Files.deleteIfExists(pgdata.resolve("postmaster.pid"));
            PgServer server;
            try {
                // fsync off: this copy is thrown away, and recovery replays the same either way
                server = PgServer.start(pgdata, dir.resolve("run"), "fsync=off");
            } catch (PgServer.StartFailure e) {
                return failed(pair, "recovery failed, the server did not start: " + e.getMessage());
            }
            teardown.add("stop PostgreSQL on " + pair, server::close);
            return then.apply(server);
        }
    }

    /**
     * Every pgbench transaction adds the same delta to one account, one teller, one branch and
     * inserts it into the history, atomically; {@code pgbench -i} starts all at zero. So the four
     * sums are equal in any state a committed-transaction history can reach, and the row counts of
     * the three fixed tables never change. Returns the number of history rows and their sum.
     */
    private long[] checkInvariants(PgServer server, List<String> problems) {
        ExternalTool.Result result = server.psql("""
                SELECT (SELECT count(*) FROM pgbench_branches), (SELECT count(*) FROM pgbench_tellers),
                       (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM pgbench_history),
                       (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches),
                       (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers),
                       (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts),
                       (SELECT coalesce(sum(delta), 0) FROM pgbench_history);
                """);
        if (result.exitCode() != 0) {
            problems.add("the invariant query failed: " + result.stderr().strip());
            return new long[]{-1, 0};
        }
        long[] v = Arrays.stream(result.stdout().strip().split("\\|")).mapToLong(Long::parseLong).toArray();
        long[] expectedRows = {scale, 10L * scale, 100_000L * scale};
        String[] tables = {"pgbench_branches", "pgbench_tellers", "pgbench_accounts"};
        for (int i = 0; i < tables.length; i++) {
            if (v[i] != expectedRows[i]) {
                problems.add(tables[i] + " has " + v[i] + " rows, pgbench -i made " + expectedRows[i]);
            }
        }
        if (v[4] != v[5] || v[5] != v[6] || v[6] != v[7]) {
            problems.add("pgbench sums differ: sum(bbalance)=" + v[4] + " sum(tbalance)=" + v[5] + " sum(abalance)="
                    + v[6] + " sum(delta) of " + v[3] + " history rows=" + v[7]);
        }
        return new long[]{v[3], v[7]};
    }

    /**
     * amcheck on every btree index ({@code bt_index_check} with heapallindexed, which also finds
     * heap tuples missing from the index) and every table, TOAST included ({@code verify_heapam}).
     * One line per finding; a check that errors out is a finding too.
     */
    private static List<String> amcheck(PgServer server) {
        ExternalTool.Result result = server.psql("""
                CREATE EXTENSION IF NOT EXISTS amcheck;
                CREATE FUNCTION pg_temp.amcheck_findings() RETURNS SETOF text LANGUAGE plpgsql AS $$
                DECLARE
                    r record;
                    f record;
                BEGIN
                    FOR r IN SELECT c.oid, c.oid::regclass AS name FROM pg_class c JOIN pg_am am ON am.oid = c.relam
                             WHERE am.amname = 'btree' AND c.relkind = 'i' AND c.relpersistence <> 't' ORDER BY 1 LOOP
                        BEGIN
                            PERFORM bt_index_check(r.oid, true);
                        EXCEPTION WHEN OTHERS THEN
                            RETURN NEXT format('index %s: %s', r.name, SQLERRM);
                        END;
                    END LOOP;
                    FOR r IN SELECT c.oid, c.oid::regclass AS name FROM pg_class c
                             WHERE c.relkind IN ('r', 'm', 't') AND c.relpersistence <> 't' ORDER BY 1 LOOP
                        BEGIN
                            FOR f IN SELECT * FROM verify_heapam(r.oid) LOOP
                                RETURN NEXT format('table %s block %s offset %s attribute %s: %s',
                                                   r.name, f.blkno, f.offnum, f.attnum, f.msg);
                            END LOOP;
                        EXCEPTION WHEN OTHERS THEN
                            RETURN NEXT format('table %s: %s', r.name, SQLERRM);
                        END;
                    END LOOP;
                END $$;
                SELECT count(*) FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'btree';
                SELECT * FROM pg_temp.amcheck_findings();
                """);
        if (result.exitCode() != 0) {
            return List.of("amcheck could not run: " + result.stderr().strip());
        }
        List<String> lines = new ArrayList<>(result.stdout().strip().lines().toList());
        if (lines.isEmpty() || Long.parseLong(lines.get(0)) == 0) {
            return List.of("amcheck found no btree index to check");
        }
        return lines.subList(1, lines.size()).stream().map(finding -> "amcheck: " + finding).toList();
    }

    private static Verdict failed(String pair, String problem) {
        return new Verdict(pair, List.of(problem), -1, 0, false);
    }
}

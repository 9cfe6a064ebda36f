package cgw.tests.pg;

import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * PostgreSQL on the two volumes of one gateway, reached through its NBD Unix socket (nbdfuse,
 * loop, ext4), as a site of a replicated pair runs it: made new on the first primary, attached
 * after a failover to the volumes a replica promoted (crash recovery), and abandoned when its
 * gateway is killed. pgbench logs every transaction it completes, with the time, so a test can
 * tell which commits a failover may lose. Owned by the test thread.
 */
final class PgSite implements AutoCloseable {
    final PgServer server;
    final Path dataDir;
    private final Path dir;
    private final Teardown teardown;
    private final List<Path> mounts;
    private Process load;
    private Path logPrefix;

    private PgSite(Path dir, PgServer server, Path dataDir, Teardown teardown, List<Path> mounts) {
        this.dir = dir;
        this.server = server;
        this.dataDir = dataDir;
        this.teardown = teardown;
        this.mounts = mounts;
    }

    /** Formats both volumes, makes a cluster with its WAL on the first and runs {@code pgbench -i}. */
    static PgSite create(Path dir, Path socket, int scale) throws Exception {
        return open(dir, socket, true, scale);
    }

    /** Mounts both volumes as they are and starts PostgreSQL on them: crash recovery. */
    static PgSite attach(Path dir, Path socket) throws Exception {
        return open(dir, socket, false, 0);
    }

    private static PgSite open(Path dir, Path socket, boolean create, int scale) throws Exception {
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Teardown teardown = new Teardown();
        try {
            List<Path> mounts = new ArrayList<>();
            for (String volume : List.of(PgOnTwoVolumes.WAL_VOLUME, PgOnTwoVolumes.DATA_VOLUME)) {
                Path file = Ext4OverNbd.nbdfuse("nbd+unix:///" + volume + "?socket=" + socket,
                        dir.resolve("fuse-" + volume), teardown);
                Path mount = dir.resolve(volume);
                if (create) {
                    Ext4OverNbd.formatAndMount(file, mount, teardown);
                    PgServer.chown(mount);
                } else {
                    Ext4OverNbd.mountImage(file, mount, teardown).assertSuccess();
                }
                mounts.add(mount);
            }
            Path dataDir = mounts.get(1).resolve(PgOnTwoVolumes.DATA_DIR);
            Path walDir = mounts.get(0).resolve(PgOnTwoVolumes.WAL_DIR);
            if (create) {
                PgServer.initdb(dataDir, walDir);
                Files.writeString(dataDir.resolve("postgresql.conf"), PgOnTwoVolumes.SETTINGS,
                        StandardOpenOption.APPEND);
                run("sync", "-f", dataDir.resolve("postgresql.conf").toString()).assertSuccess();
            } else {
                // the WAL is mounted elsewhere than where initdb linked it; the old postmaster is gone
                Files.deleteIfExists(dataDir.resolve("pg_wal"));
                Files.createSymbolicLink(dataDir.resolve("pg_wal"), walDir);
                Files.deleteIfExists(dataDir.resolve("postmaster.pid"));
            }
            PgServer server = PgServer.start(dataDir, dir.resolve("run"));
            teardown.add("stop PostgreSQL", server::close);
            if (create) {
                run(server.pgbench("-i", "-s", String.valueOf(scale))).assertSuccess();
            }
            return new PgSite(dir, server, dataDir, teardown, mounts);
        } catch (Exception | AssertionError e) {
            try {
                teardown.close();
            } catch (AssertionError undo) {
                e.addSuppressed(undo);
            }
            throw e;
        }
    }

    /** Starts {@code clients} pgbench clients that log each transaction they complete under {@code logPrefix}. */
    void startLoad(int clients, Path logPrefix) throws IOException {
        this.logPrefix = logPrefix;
        load = new ProcessBuilder(server.pgbench("-n", "-c", String.valueOf(clients), "-j", "2", "-T", "900", "-l",
                "--log-prefix=" + logPrefix)).redirectErrorStream(true)
                .redirectOutput(logPrefix.resolveSibling(logPrefix.getFileName() + ".out").toFile()).start();
    }

    void requireLoad() {
        assertThat(load != null && load.isAlive()).as("pgbench is running").isTrue();
    }

    /**
     * The completion times (epoch microseconds) of the transactions pgbench logged: committed and
     * acknowledged to it. Waits for pgbench to end first (its server is gone or stopped), so that
     * its logs are whole.
     */
    List<Long> completedTransactions() throws Exception {
        if (!load.waitFor(60, TimeUnit.SECONDS)) {
            load.destroy(); // pgbench writes out its logs on SIGTERM too
            assertThat(load.waitFor(30, TimeUnit.SECONDS)).as("pgbench ended").isTrue();
        }
        List<Long> times = new ArrayList<>();
        try (var files = Files.list(logPrefix.getParent())) {
            for (Path file : files.filter(f -> f.getFileName().toString().startsWith(logPrefix.getFileName() + "."))
                    .filter(f -> !f.getFileName().toString().endsWith(".out")).toList()) {
                for (String line : Files.readAllLines(file)) {
                    // client transaction latency script epoch-seconds microseconds
                    String[] fields = line.trim().split("\\s+");
                    if (fields.length >= 6) {
                        times.add(Long.parseLong(fields[4]) * 1_000_000 + Long.parseLong(fields[5]));
                    }
                }
            }
        }
        return times;
    }

    /**
     * Leaves a site whose gateway was killed or turned read-only: PostgreSQL and pgbench are
     * killed, the filesystems unmounted lazily (their device is gone), nbdfuse stopped.
     */
    void abandon() {
        run("pkill", "-9", "-f", "postgres -D " + dataDir).exitCode();
        run("pkill", "-9", "-f", "postgres: ").exitCode();
        for (Path mount : mounts) {
            run("umount", "-l", mount.toString()).exitCode();
        }
        // nbdfuse of a dead gateway: its FUSE mounts go lazily too, with whatever holds them
        for (String volume : List.of(PgOnTwoVolumes.WAL_VOLUME, PgOnTwoVolumes.DATA_VOLUME)) {
            run("fusermount3", "-u", "-z", dir.resolve("fuse-" + volume).toString()).exitCode();
        }
        try {
            teardown.close();
        } catch (AssertionError e) {
            // the steps that need a live device fail; what they left goes with the lazy unmounts
            System.err.println("abandoning " + dataDir + ": " + e.getMessage());
        }
    }

    @Override
    public void close() {
        if (load != null) {
            load.destroy();
        }
        teardown.close();
    }
}

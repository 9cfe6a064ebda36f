package cgw.tests.pg;

import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import cgw.tests.GatewayProcess;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

/**
 * The system under test: {@code cgw serve} with two volumes, {@value #WAL_VOLUME} and
 * {@value #DATA_VOLUME}, each attached over the NBD Unix socket through nbdfuse and a loop device
 * and mounted as ext4; PostgreSQL 15 with its WAL on the first ({@code initdb --waldir}) and its data
 * on the second; pgbench running against it in the background. Owned by the test thread;
 * {@link #close} undoes everything, in reverse, also after a failed start.
 */
final class PgOnTwoVolumes implements AutoCloseable {
    static final String WAL_VOLUME = "pgwal";
    static final String DATA_VOLUME = "pgdata";
    /** Where the cluster lives on each volume's filesystem. */
    static final String WAL_DIR = "wal";
    static final String DATA_DIR = "pg";
    private static final String VOLUME_SIZE = "512MiB";
    private static final long AWAIT_TIMEOUT_SECONDS = 120;
    /**
     * Live-server settings. A small max_wal_size makes pgbench trigger a checkpoint every few
     * seconds, so captures land in different checkpoint cycles, and a checkpoint (data files
     * flushed, then pg_control rewritten) is what a pair captured one volume after the other tears.
     */
    static final String SETTINGS = """

            # cgw.tests.pg
            listen_addresses = ''
            max_wal_size = 32MB
            min_wal_size = 32MB
            checkpoint_timeout = 30s
            checkpoint_warning = 0
            """;

    final GatewayProcess gateway;
    final Path socket;
    final Path walMount;
    final Path dataMount;
    final PgServer server;
    private final Process load;
    private final Path loadLog;
    private final Teardown teardown;

    private PgOnTwoVolumes(GatewayProcess gateway, Path socket, Path walMount, Path dataMount, PgServer server,
            Process load, Path loadLog, Teardown teardown) {
        this.gateway = gateway;
        this.socket = socket;
        this.walMount = walMount;
        this.dataMount = dataMount;
        this.server = server;
        this.load = load;
        this.loadLog = loadLog;
        this.teardown = teardown;
    }

    /** Fails unless every program this fixture and {@link RecoveryCheck} run is installed. */
    static void requireTools() {
        for (String[] tool : new String[][]{{"nbdfuse", "libnbd-bin"}, {"nbdcopy", "libnbd-bin"},
                {"fusermount3", "fuse3"}, {"losetup", "mount"}, {"mount", "mount"}, {"umount", "mount"},
                {"mkfs.ext4", "e2fsprogs"}, {"fsfreeze", "util-linux"}}) {
            require(tool[0], tool[1]);
        }
        PgServer.requireInstalled();
    }

    /**
     * Starts it all in {@code dir}, initialises pgbench at {@code scale} and starts {@code clients}
     * pgbench clients that run until {@link #close}.
     */
    static PgOnTwoVolumes start(Path dir, int scale, int clients) throws Exception {
        Teardown teardown = new Teardown();
        try {
            // the postgres user must reach the mounts and its run directory below dir
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            Path socket = dir.resolve("nbd.sock");
            GatewayProcess gateway = GatewayProcess.start(dir.resolve("gateway"), dir.resolve("gateway.err"),
                    "--nbd-socket", socket.toString());
            teardown.add("stop the gateway", () -> {
                gateway.stop();
                gateway.close();
            });
            Path[] mounts = new Path[2];
            List<String> volumes = List.of(WAL_VOLUME, DATA_VOLUME);
            for (int i = 0; i < volumes.size(); i++) {
                String volume = volumes.get(i);
                gateway.call(201, "POST", "/v1/volumes",
                        "{\"name\":\"" + volume + "\",\"size\":\"" + VOLUME_SIZE + "\"}");
                Path file = Ext4OverNbd.nbdfuse(uri(socket, volume), dir.resolve("fuse-" + volume), teardown);
                Path mount = dir.resolve(volume);
                mounts[i] = mount;
                Ext4OverNbd.formatAndMount(file, mount, teardown);
                // a test that froze it and failed before thawing would leave umount waiting forever
                teardown.add("thaw " + mount, () -> run("fsfreeze", "--unfreeze", mount.toString()));
                PgServer.chown(mount);
            }
            Path dataDir = mounts[1].resolve(DATA_DIR);
            PgServer.initdb(dataDir, mounts[0].resolve(WAL_DIR));
            Path conf = dataDir.resolve("postgresql.conf");
            Files.writeString(conf, SETTINGS, StandardOpenOption.APPEND);
            // initdb synced what it wrote; this makes the settings durable too, so every capture has them
            try (FileChannel channel = FileChannel.open(conf, StandardOpenOption.WRITE)) {
                channel.force(true);
            }
            PgServer server = PgServer.start(dataDir, dir.resolve("run"));
            teardown.add("stop PostgreSQL", server::close);

            run(server.pgbench("-i", "-s", String.valueOf(scale))).assertSuccess();

            // -n: no vacuum first, which would truncate pgbench_history and break the invariant
            Path loadLog = dir.resolve("pgbench.log");
            Process load = new ProcessBuilder(
                    server.pgbench("-n", "-c", String.valueOf(clients), "-j", "2", "-T", "900"))
                    .redirectErrorStream(true).redirectOutput(loadLog.toFile()).start();
            teardown.add("stop pgbench", () -> {
                load.destroy();
                load.waitFor();
            });
            return new PgOnTwoVolumes(gateway, socket, mounts[0], mounts[1], server, load, loadLog, teardown);
        } catch (Exception | AssertionError e) {
            try {
                teardown.close();
            } catch (AssertionError undo) {
                e.addSuppressed(undo);
            }
            throw e;
        }
    }

    /** The NBD URI of {@code export} (a volume, or VOLUME@SNAPSHOT) over the Unix socket. */
    String uri(String export) {
        return uri(socket, export);
    }

    private static String uri(Path socket, String export) {
        return "nbd+unix:///" + export + "?socket=" + socket;
    }

    /**
     * Copies the export {@code export} to a raw file; a volume's head is copied as it changes (not
     * atomically: the copy takes a while).
     */
    void copy(String export, Path rawFile) {
        run("nbdcopy", uri(export), rawFile.toString()).assertSuccess();
    }

    /** Where the live server has inserted WAL up to now. */
    String walInsertLsn() {
        return server.query("SELECT pg_current_wal_insert_lsn();");
    }

    /**
     * Waits until the live server has completed a checkpoint whose record lies after {@code lsn}:
     * data files flushed, then the checkpoint record written and pg_control rewritten to point at it.
     */
    void awaitCheckpointAfter(String lsn) {
        awaitQuery("SELECT checkpoint_lsn > '" + lsn + "'::pg_lsn FROM pg_control_checkpoint();",
                "a checkpoint after " + lsn);
    }

    /** Waits until pgbench has made the live server insert {@code bytes} more of WAL. */
    void awaitWalInserted(long bytes) {
        String lsn = walInsertLsn();
        awaitQuery("SELECT pg_current_wal_insert_lsn() - '" + lsn + "'::pg_lsn >= " + bytes + ";",
                bytes + " bytes of WAL after " + lsn);
    }

    /** Polls the live server until {@code sql} returns true, while pgbench runs. */
    private void awaitQuery(String sql, String what) {
        await(what + " under pgbench").atMost(Duration.ofSeconds(AWAIT_TIMEOUT_SECONDS)).until(() -> {
            requireLoad();
            return server.query(sql).equals("t");
        });
    }

    /** Fails unless pgbench is still running. */
    void requireLoad() {
        assertThat(load.isAlive()).as("pgbench is running; its output: %s", readLoadLog()).isTrue();
    }

    private String readLoadLog() {
        try {
            return Files.readString(loadLog, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no output: " + e + ")";
        }
    }

    @Override
    public void close() {
        teardown.close();
    }
}

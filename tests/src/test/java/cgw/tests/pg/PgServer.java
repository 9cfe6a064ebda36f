package cgw.tests.pg;

import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static cgw.tests.ExternalTool.runWithInput;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;

/**
 * A PostgreSQL 15 server on a data directory, run by the {@code postgres} user (it refuses to run as
 * root) and reached only through a Unix socket in its own run directory: no TCP listener, so no
 * port can clash with another server on the host. Used from the test thread; {@link #close} stops it
 * at once, as a crash would.
 */
final class PgServer implements AutoCloseable {
    static final Path BIN = Path.of("/usr/lib/postgresql/15/bin");
    /** Only names the socket file in the private run directory. */
    private static final String PORT = "5432";
    private static final String START_TIMEOUT_SECONDS = "120";
    private static final long STOP_TIMEOUT_SECONDS = 60;

    final Path dataDir;
    final Path runDir;
    private boolean running = true;

    /** Why a server did not start, with what its log says about it. */
    static final class StartFailure extends Exception {
        StartFailure(String reasons) {
            super(reasons);
        }
    }

    private PgServer(Path dataDir, Path runDir) {
        this.dataDir = dataDir;
        this.runDir = runDir;
    }

    /** Fails unless PostgreSQL 15 with amcheck, the postgres user and root rights are here. */
    static void requireInstalled() {
        for (String program : List.of("postgres", "initdb", "pg_ctl", "pgbench")) {
            require(BIN.resolve(program).toString(), "postgresql-15");
        }
        require(BIN.resolve("psql").toString(), "postgresql-client-15");
        require("/usr/share/postgresql/15/extension/amcheck.control", "postgresql-15");
        require("runuser", "util-linux");
        assertThat(run("id", "-u").assertSuccess().stdout().strip())
                .as("these tests mount filesystems, set up loop devices and switch users: they run as root")
                .isEqualTo("0");
        run("id", "postgres").assertSuccess();
    }

    /** Gives {@code path} to the postgres user. */
    static void chown(Path path) {
        run("chown", "postgres:postgres", path.toString()).assertSuccess();
    }

    /** A new cluster in {@code dataDir} whose WAL lives in {@code walDir}, on another filesystem. */
    static void initdb(Path dataDir, Path walDir) {
        asPostgres(dataDir.getParent(), BIN.resolve("initdb").toString(), "-D", dataDir.toString(),
                "--waldir=" + walDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale").assertSuccess();
    }

    /**
     * Starts a server on {@code dataDir} and waits until it accepts connections, which after a crash
     * means until recovery has finished. {@code settings} are {@code name=value} pairs that win over
     * postgresql.conf.
     */
    static PgServer start(Path dataDir, Path runDir, String... settings) throws IOException, StartFailure {
        Files.createDirectories(runDir);
        chown(runDir);
        StringBuilder options = new StringBuilder("-p " + PORT + " -k " + runDir);
        for (String setting : settings) {
            options.append(" -c ").append(setting);
        }
        ExternalTool.Result started = asPostgres(runDir, BIN.resolve("pg_ctl").toString(), "-D", dataDir.toString(),
                "-l", log(runDir).toString(), "-w", "-t", START_TIMEOUT_SECONDS, "-o", options.toString(), "start");
        PgServer server = new PgServer(dataDir, runDir);
        if (started.exitCode() != 0) {
            server.close(); // a server still recovering when pg_ctl gave up
            String reasons = server.logLines("PANIC:|FATAL:");
            throw new StartFailure(reasons.isEmpty()
                    ? "pg_ctl: " + started.stderr().strip() + "; the server log: " + server.logLines("")
                    : reasons);
        }
        return server;
    }

    /** Runs {@code sql} (any number of statements) and returns the rows it printed, fields split by '|'. */
    ExternalTool.Result psql(String sql) {
        return runWithInput(sql, BIN.resolve("psql").toString(), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", runDir.toString(), "-p", PORT, "-U", "postgres", "-d", "postgres", "-f", "-");
    }

    /** {@link #psql} that must succeed; returns its output without the last newline. */
    String query(String sql) {
        return psql(sql).assertSuccess().stdout().strip();
    }

    /** The command line of pgbench against this server with {@code args}. */
    String[] pgbench(String... args) {
        List<String> command = new ArrayList<>(List.of(BIN.resolve("pgbench").toString(), "-h", runDir.toString(),
                "-p", PORT, "-U", "postgres"));
        command.addAll(List.of(args));
        command.add("postgres");
        return command.toArray(String[]::new);
    }

    /** The server log's lines that match {@code regex}, one per line. */
    String logLines(String regex) {
        try {
            return Files.readAllLines(log(runDir)).stream().filter(line -> line.matches(".*(" + regex + ").*"))
                    .collect(Collectors.joining("\n"));
        } catch (IOException e) {
            return "(no server log: " + e + ")";
        }
    }

    /**
     * Stops the server at once, without a checkpoint, like a crash, and waits until the postmaster
     * is gone (pg_ctl returns when its PID file is, a moment earlier), so that its filesystem can be
     * unmounted; a no-op when it is not running.
     */
    @Override
    public void close() {
        Path pidFile = dataDir.resolve("postmaster.pid");
        if (running && Files.exists(pidFile)) {
            Optional<ProcessHandle> postmaster = postmaster(pidFile);
            asPostgres(runDir, BIN.resolve("pg_ctl").toString(), "-D", dataDir.toString(), "-m", "immediate", "-w",
                    "stop").assertSuccess();
            postmaster.ifPresent(process -> {
                try {
                    process.onExit().get(STOP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError("interrupted while waiting for the postmaster " + process.pid(), e);
                } catch (ExecutionException | TimeoutException e) {
                    throw new AssertionError("the postmaster " + process.pid() + " is still there", e);
                }
            });
        }
        running = false;
    }

    private static Optional<ProcessHandle> postmaster(Path pidFile) {
        try {
            return ProcessHandle.of(Long.parseLong(Files.readAllLines(pidFile).get(0).strip()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + pidFile, e);
        }
    }

    private static Path log(Path runDir) {
        return runDir.resolve("postgres.log");
    }

    /** Runs {@code command} as the postgres user in {@code workDir}, which that user can enter. */
    private static ExternalTool.Result asPostgres(Path workDir, String... command) {
        List<String> argv = new ArrayList<>(
                List.of("runuser", "-u", "postgres", "--", "env", "-C", workDir.toString()));
        argv.addAll(List.of(command));
        return run(argv.toArray(String[]::new));
    }
}

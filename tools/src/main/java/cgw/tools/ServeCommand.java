package cgw.tools;

import cgw.api.ByteSize;
import cgw.backup.KeySource;
import cgw.backup.RepositoryAccess;
import cgw.cli.S3Options;
import cgw.host.NamedThreads;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code cgw serve}: runs the gateway until SIGTERM or SIGINT, then stops it in order and exits 0.
 * Runs on the main thread, which owns the gateway; the shutdown hook closes it on other exits.
 * Its listening lines are the only thing the gateway prints on stdout.
 */
@Command(name = "serve", sortOptions = false, description = "Serve volumes over NBD and the REST API from the block store in --data, until SIGTERM.")
final class ServeCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);
    /** sun_path of a Unix socket address holds 108 bytes with the terminating NUL. */
    private static final int MAX_SOCKET_PATH_BYTES = 107;

    @Spec
    CommandSpec spec;

    @Option(names = "--data", paramLabel = "DIR", defaultValue = "./cgw-data", description = "RocksDB, catalog, API token and TLS material (default: ${DEFAULT-VALUE})")
    Path dataDir;

    @Option(names = "--nbd", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:10809", description = "NBD over TCP; port 0 picks a free port (default: ${DEFAULT-VALUE})")
    HostPort nbd;

    @Option(names = "--nbd-socket", paramLabel = "PATH", description = "NBD over a Unix socket as well")
    Path nbdSocket;

    @Option(names = "--http", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:10810", description = "REST API; port 0 picks a free port (default: ${DEFAULT-VALUE})")
    HostPort http;

    @Option(names = "--tls", description = "NBD STARTTLS and HTTPS with certificates in DATA/tls/")
    boolean tls;

    @Mixin
    S3Options s3;

    @Option(names = "--backup-key-file", paramLabel = "FILE", description = {
            "Key (32+ random bytes) that encrypts new repositories and opens existing ones;",
            "or a passphrase in $" + RepositoryAccess.PASSPHRASE_VARIABLE + "; neither: unencrypted"})
    Path backupKeyFile;

    @Option(names = "--backup-root", paramLabel = "DIR", description = {
            "The only directory where file:// export targets and restore sources may lie (checked",
            "after resolving symlinks); repeatable; default: DATA/backups"})
    List<Path> backupRoots = new ArrayList<>();

    @Option(names = "--backup-rate", paramLabel = "BYTES/s", defaultValue = "0", description = "Most bytes a second all backup jobs together read, e.g. 200MiB; 0 for no limit (default)")
    String backupRate;

    @Option(names = "--backup-jobs", paramLabel = "N", defaultValue = "2", description = "Backup jobs run at once; more wait their turn (default: ${DEFAULT-VALUE})")
    int backupJobs;

    @Override
    public Integer call() throws InterruptedException {
        ServeSettings settings = settings();
        PrivateFiles.apply(settings.dataDir());
        StopSignals signals = StopSignals.install();
        Gateway gateway = Gateway.start(settings);
        Runtime.getRuntime().addShutdownHook(NamedThreads.thread("cgw-shutdown", false, () -> closeOnExit(gateway)));
        PrintWriter out = spec.commandLine().getOut();
        for (Frontend frontend : gateway.frontends()) {
            out.println(frontend.listeningLine());
        }
        out.println("API token in " + settings.tokenFile());
        out.flush();
        if (out.checkError()) {
            log.warn("could not print the listening lines: stdout is closed; serving anyway");
        }
        String signal = signals.await();
        log.info("{} received: stopping", signal);
        gateway.close();
        return 0;
    }

    /** For exits that are not a stop signal (SIGHUP, System.exit elsewhere); a no-op after {@link Gateway#close}. */
    private static void closeOnExit(Gateway gateway) {
        try {
            gateway.close();
        } catch (RuntimeException e) {
            log.error("closing the gateway at exit failed", e);
        }
    }

    private ServeSettings settings() {
        if (nbdSocket != null) {
            checkSocketPath(nbdSocket);
        }
        if (nbd.port() != 0 && nbd.equals(http)) {
            throw new ParameterException(spec.commandLine(), "--nbd and --http both ask for " + nbd);
        }
        if (backupJobs < 1 || backupJobs > 16) {
            throw new ParameterException(spec.commandLine(),
                    "--backup-jobs must be between 1 and 16, got " + backupJobs);
        }
        long rate;
        KeySource key;
        try {
            rate = ByteSize.parseBytes(backupRate);
            key = RepositoryAccess.key(backupKeyFile, System.getenv(RepositoryAccess.PASSPHRASE_VARIABLE));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e, null, null);
        }
        if (backupKeyFile != null && !Files.isReadable(backupKeyFile)) {
            throw new ParameterException(spec.commandLine(),
                    "--backup-key-file " + backupKeyFile + " is not a readable file");
        }
        for (Path root : backupRoots) {
            if (!Files.isDirectory(root)) {
                throw new ParameterException(spec.commandLine(), "--backup-root " + root + " is not a directory");
            }
        }
        return new ServeSettings(dataDir, nbd, nbdSocket, http, tls, new ServeSettings.Backups(
                new RepositoryAccess(s3.settings(), key), List.copyOf(backupRoots), rate, backupJobs));
    }

    private void checkSocketPath(Path socket) {
        if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES) {
            throw new ParameterException(spec.commandLine(), "--nbd-socket " + socket + " is longer than "
                    + MAX_SOCKET_PATH_BYTES + " bytes, the limit of a Unix socket path");
        }
        Path dir = socket.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new ParameterException(spec.commandLine(), "--nbd-socket " + socket + ": directory " + dir
                    + " does not exist");
        }
        if (Files.isDirectory(socket)) {
            throw new ParameterException(spec.commandLine(), "--nbd-socket " + socket + " is a directory");
        }
    }
}

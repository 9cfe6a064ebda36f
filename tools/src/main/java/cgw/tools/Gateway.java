package cgw.tools;

import cgw.api.ApiTokens;
import cgw.api.OpenApiDocument;
import cgw.api.RestApi;
import cgw.api.RestBindException;
import cgw.api.RestServer;
import cgw.api.Routes;
import cgw.api.Transport;
import cgw.api.VolumeClients;
import cgw.api.jobs.BackupJobs;
import cgw.backup.BackupRoots;
import cgw.backup.JobOptions;
import cgw.backup.RepositoryAccess;
import cgw.barrier.GroupBarrier;
import cgw.replication.Replication;
import cgw.store.BlockStore;
import cgw.store.StoreException;
import cgw.store.StoreOptions;
import cgw.tools.metrics.GatewayMetrics;
import cgw.tools.tls.TlsMaterial;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running gateway: the block store and the front ends serving it. Started on the serve
 * thread; {@link #close} may come from that thread or the shutdown hook and runs once (the
 * monitor serialises it). Front ends close before the store, last started first, so no request
 * ever reaches a closed store.
 */
final class Gateway implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Gateway.class);

    private final BlockStore store;
    private final GroupBarrier barrier;
    private final Replication replication;
    private final GatewayMetrics metrics;
    private final BackupJobs jobs;
    private final List<Frontend> frontends;
    private boolean closed; // guarded by this

    private Gateway(BlockStore store, GroupBarrier barrier, Replication replication, GatewayMetrics metrics,
            BackupJobs jobs, List<Frontend> frontends) {
        this.store = store;
        this.barrier = barrier;
        this.replication = replication;
        this.metrics = metrics;
        this.jobs = jobs;
        this.frontends = List.copyOf(frontends);
    }

    /** Opens the store, then starts the front ends; on failure closes what was started and throws. */
    static Gateway start(ServeSettings settings) {
        BlockStore store = openStore(settings);
        GroupBarrier barrier = null;
        Replication replication = null;
        GatewayMetrics metrics = null;
        BackupJobs jobs = null;
        List<Frontend> started = new ArrayList<>();
        try {
            barrier = GroupBarrier.open(store);
            replication = Replication.open(store, barrier);
            metrics = new GatewayMetrics(store);
            metrics.listenTo(barrier);
            metrics.watch(replication);
            jobs = new BackupJobs(settings.backups().maxRunning(), settings.backups().rateBytesPerSecond(),
                    JobOptions.defaults());
            ApiTokens tokens = new ApiTokens(ApiTokenFile.loadOrCreate(settings.tokenFile()),
                    ApiTokenFile.loadOrCreate(settings.readTokenFile()));
            startFrontends(settings, store, barrier, replication, metrics, jobs, tokens, started);
            return new Gateway(store, barrier, replication, metrics, jobs, started);
        } catch (RuntimeException e) {
            new Gateway(store, barrier, replication, metrics, jobs, started).closeAfterFailedStart(e);
            throw e;
        }
    }

    /**
     * Starts the listeners in the order their lines are printed, as CONTRACT.md orders them: NBD,
     * then REST, both on one transport (epoll or NIO). With {@code --tls}, both use the material in
     * {@code DATA/tls/} (created on first use): NBD requires STARTTLS, REST speaks HTTPS. NBD I/O
     * goes through the metrics' decorator; REST serves them as {@code GET /metrics}.
     */
    private static void startFrontends(ServeSettings settings, BlockStore store, GroupBarrier barrier,
            Replication replication, GatewayMetrics metrics, BackupJobs jobs, ApiTokens tokens,
            List<Frontend> started) {
        TlsMaterial tls = settings.tls()
                ? TlsMaterial.ensure(settings.dataDir().resolve("tls"),
                        List.of(settings.nbd().host(), settings.http().host()))
                : null;
        Transport transport = Transport.best();
        VolumeClients clients = VolumeClients.load(store);
        NbdFrontend nbd = NbdFrontend.start(settings, store, barrier, replication, metrics::meter, clients,
                tls == null ? null : tls.serverContext(), transport);
        started.add(new Frontend(nbd.listeningLine(), nbd));
        try {
            Routes routes = RestApi.routes(store, barrier, nbd::openConnections, clients, replication::isReplica,
                    replication::deleteGroup);
            metrics.addTo(routes);
            RestApi.addReplication(routes, replication);
            RestApi.addBackups(routes, store, barrier, jobs, repositoryAccess(settings), gatewayName(settings));
            OpenApiDocument openApi = OpenApiDocument.load();
            openApi.addTo(routes);
            openApi.requireDescribes(routes);
            RestServer rest = RestServer.start(settings.http().socketAddress(), routes, tokens,
                    tls == null ? null : tls.httpsContext(), transport);
            started.add(new Frontend((tls == null ? "REST listening on http://" : "REST listening on https://")
                    + HostPort.of(rest.address()), rest));
        } catch (RestBindException e) {
            throw new ServeException(e.getMessage(), e);
        }
    }

    /**
     * The backup settings with {@code file://} repositories confined to the {@code --backup-root}
     * directories, or to {@code DATA/backups} (made here, 0700) when none was given.
     */
    private static RepositoryAccess repositoryAccess(ServeSettings settings) {
        List<Path> roots = settings.backups().roots();
        if (roots.isEmpty()) {
            Path dir = settings.defaultBackupRoot();
            try {
                Files.createDirectories(dir,
                        PosixFilePermissions.asFileAttribute(PrivateFiles.OWNER_ONLY_DIRECTORY));
            } catch (IOException e) {
                throw new ServeException("cannot create the backup root " + dir + ": " + e, e);
            }
            roots = List.of(dir);
        }
        try {
            return settings.backups().access().withRoots(BackupRoots.of(roots));
        } catch (IllegalArgumentException e) {
            throw new ServeException(e.getMessage(), e);
        }
    }

    /** Who made a backup, as its manifest records it: this host and data directory. */
    private static String gatewayName(ServeSettings settings) {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            log.debug("no host name; manifests name localhost", e);
            host = "localhost";
        }
        return host + ":" + settings.dataDir().toAbsolutePath().normalize();
    }

    private static BlockStore openStore(ServeSettings settings) {
        try {
            return BlockStore.open(settings.storeDir(), StoreOptions.defaults());
        } catch (StoreException e) {
            throw new ServeException(e.getMessage(), e);
        }
    }

    List<Frontend> frontends() {
        return frontends;
    }

    /**
     * Closes the front ends (each stops accepting and finishes its requests in flight), then the
     * store (which syncs its WAL). Every step runs even when an earlier one failed; the first
     * failure is thrown at the end, the others attached to it.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        for (int i = frontends.size() - 1; i >= 0; i--) {
            failure = closeStep(frontends.get(i).server(), failure);
        }
        if (jobs != null) {
            // after REST (no new jobs), before the store: running jobs stop at a chunk and leave valid data
            failure = closeStep(jobs, failure);
        }
        if (metrics != null) {
            failure = closeStep(metrics, failure);
        }
        if (replication != null) {
            // its shippers cut through the barrier and read the store: stopped before both
            failure = closeStep(replication, failure);
        }
        if (barrier != null) {
            failure = closeStep(barrier, failure);
        }
        failure = closeStep(store, failure);
        if (failure != null) {
            throw new ServeException("the gateway did not stop cleanly: " + failure.getMessage(), failure);
        }
        log.info("gateway stopped");
    }

    private void closeAfterFailedStart(RuntimeException startFailure) {
        try {
            close();
        } catch (RuntimeException e) {
            startFailure.addSuppressed(e);
        }
    }

    private static RuntimeException closeStep(AutoCloseable resource, RuntimeException failure) {
        try {
            resource.close();
            return failure;
        } catch (Exception e) {
            log.error("closing {} failed", resource.getClass().getSimpleName(), e);
            RuntimeException wrapped = e instanceof RuntimeException runtime
                    ? runtime
                    : new IllegalStateException(e.getMessage(), e);
            if (failure == null) {
                return wrapped;
            }
            failure.addSuppressed(wrapped);
            return failure;
        }
    }
}

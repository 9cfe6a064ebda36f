package cgw.api;

import cgw.api.jobs.BackupJobs;
import cgw.backup.RepositoryAccess;
import cgw.barrier.GroupBarrier;
import cgw.replication.Replication;
import cgw.store.BlockStore;
import io.netty.handler.codec.http.HttpMethod;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.ToIntFunction;

/**
 * The gateway's route table as served today: health, then one resource per domain noun. New
 * resources (groups, snapshots, jobs) register here; {@code GET /metrics} is added by the gateway's
 * metrics ({@code cgw.tools.metrics.GatewayMetrics#addTo}). Runs once, on the starting thread.
 */
public final class RestApi {
    private static final Map<String, String> HEALTHY = Map.of("status", "ok");

    private RestApi() {
    }

    /** {@code attachments}: how many NBD connections have a volume open (deleting it is refused then). */
    public static Routes routes(BlockStore store, GroupBarrier barrier, ToIntFunction<String> attachments) {
        return routes(store, barrier, attachments, VolumeClients.load(store));
    }

    /** As {@link #routes(BlockStore, GroupBarrier, ToIntFunction)}, with the volumes' client lists the NBD server also reads. */
    public static Routes routes(BlockStore store, GroupBarrier barrier, ToIntFunction<String> attachments,
            VolumeClients clients) {
        return routes(store, barrier, attachments, clients, group -> false, barrier::deleteGroup);
    }

    /**
     * As above; {@code replicaGroups} names the groups that are replicas here (no snapshots of
     * their own), {@code deleteGroup} deletes a group's record (replication may refuse).
     */
    public static Routes routes(BlockStore store, GroupBarrier barrier, ToIntFunction<String> attachments,
            VolumeClients clients, Predicate<String> replicaGroups, Consumer<String> deleteGroup) {
        Routes routes = new Routes().addPublic(HttpMethod.GET, "/healthz", request -> Reply.ok(HEALTHY));
        new UiResource().addTo(routes);
        new VolumeResource(store, barrier, attachments, clients).addTo(routes);
        new GroupResource(barrier, replicaGroups, deleteGroup).addTo(routes);
        new SnapshotResource(store, barrier, clients, replicaGroups).addTo(routes);
        return routes;
    }

    /**
     * Adds replication ({@code /v1/groups/{name}/replication}, demote, promote) and the replica's
     * side of its protocol ({@code /v1/replication/...}) to {@code routes}.
     */
    public static Routes addReplication(Routes routes, Replication replication) {
        new ReplicationResource(replication).addTo(routes);
        return routes;
    }

    /**
     * Adds exports, restores and {@code /v1/jobs} to {@code routes}: jobs run on {@code jobs},
     * repositories are reached through {@code access}, manifests name {@code gatewayName} as their source.
     */
    public static Routes addBackups(Routes routes, BlockStore store, GroupBarrier barrier, BackupJobs jobs,
            RepositoryAccess access, String gatewayName) {
        new BackupResource(store, barrier, jobs, access, gatewayName).addTo(routes);
        return routes;
    }
}

package cgw.api;

import cgw.barrier.GroupBarrier;
import cgw.barrier.Snapshot;
import cgw.store.BlockStore;
import cgw.store.VolumeInfo;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.netty.handler.codec.http.HttpMethod;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * {@code /v1/snapshots}: ad-hoc group snapshots, listing, deletion and clones. Taking a snapshot
 * blocks a store-pool thread for at most its timeout. Runs on the store pool.
 */
final class SnapshotResource {
    /** The body of {@code POST /v1/snapshots}. */
    record AdHocBody(List<String> volumes, String label, Long timeoutMs) {
    }

    /** The body of {@code POST /v1/snapshots/{id}/clone}. */
    record CloneBody(String prefix) {
    }

    record CloneView(Map<String, String> volumes) {
    }

    /** A snapshot as the API shows it (CONTRACT.md). */
    @JsonPropertyOrder({"id", "group", "label", "createdAt", "volumes", "freezeMicros"})
    record SnapshotView(long id, String group, String label, String createdAt, List<String> volumes,
            long freezeMicros) {
        static SnapshotView of(Snapshot snapshot) {
            return new SnapshotView(snapshot.id(), snapshot.group(), snapshot.label(),
                    Instant.ofEpochMilli(snapshot.createdAtMillis()).toString(), snapshot.volumeNames(),
                    snapshot.freezeMicros());
        }
    }

    record SnapshotList(List<SnapshotView> snapshots) {
    }

    /** The optional body of {@code POST /v1/groups/{name}/snapshots}. */
    record Options(String label, Long timeoutMs) {
        static Options read(byte[] body) throws IOException {
            return body.length == 0 ? new Options(null, null) : ApiJson.read(body, Options.class);
        }

        Duration timeout() {
            return SnapshotResource.timeout(timeoutMs);
        }
    }

    private final BlockStore store;
    private final GroupBarrier barrier;
    private final VolumeClients clients;
    private final Predicate<String> replicaGroups;

    SnapshotResource(BlockStore store, GroupBarrier barrier, VolumeClients clients, Predicate<String> replicaGroups) {
        this.store = store;
        this.barrier = barrier;
        this.clients = clients;
        this.replicaGroups = replicaGroups;
    }

    void addTo(Routes routes) {
        routes.addGuarded(HttpMethod.POST, "/v1/snapshots", this::create)
                .addGuarded(HttpMethod.GET, "/v1/snapshots", this::list)
                .addGuarded(HttpMethod.GET, "/v1/snapshots/{id}", this::show)
                .addGuarded(HttpMethod.DELETE, "/v1/snapshots/{id}", this::delete)
                .addGuarded(HttpMethod.POST, "/v1/snapshots/{id}/clone", this::cloneSnapshot);
    }

    static Reply created(Snapshot snapshot) {
        return Reply.created(SnapshotView.of(snapshot), "/v1/snapshots/" + snapshot.id());
    }

    private Reply create(ApiRequest request) throws IOException {
        AdHocBody body = ApiJson.read(request.body(), AdHocBody.class);
        List<String> volumes = GroupResource.requireVolumes(body.volumes());
        for (String volume : volumes) {
            String group = barrier.groupOf(volume);
            if (group != null && replicaGroups.test(group)) {
                // an epoch of its own would not be one the primary shipped
                throw new ApiException(ApiError.CONFLICT, "volume " + volume + " is in group " + group
                        + ", a replica here: its snapshots are the epochs the primary ships; clone one for a drill");
            }
        }
        return created(barrier.snapshotVolumes(volumes, body.label(), timeout(body.timeoutMs())));
    }

    private Reply list(ApiRequest request) {
        String group = request.queryParam("group");
        if (group != null) {
            barrier.group(group); // 404 for a group that does not exist, rather than an empty list
        }
        return Reply.ok(new SnapshotList(barrier.snapshots(group).stream().map(SnapshotView::of).toList()));
    }

    private Reply show(ApiRequest request) {
        return Reply.ok(SnapshotView.of(barrier.snapshot(id(request))));
    }

    private Reply delete(ApiRequest request) {
        barrier.deleteSnapshot(id(request));
        return Reply.noContent();
    }

    private Reply cloneSnapshot(ApiRequest request) throws IOException {
        long id = id(request);
        CloneBody body = ApiJson.read(request.body(), CloneBody.class);
        if (body.prefix() == null) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'prefix' is required");
        }
        Map<String, String> clones = barrier.cloneSnapshot(id, body.prefix());
        // a clone holds its source's data: the same clients may open it, and no others
        Map<String, VolumeInfo> volumes = store.volumes().stream()
                .collect(Collectors.toMap(VolumeInfo::name, volume -> volume));
        clones.forEach((source, clone) -> {
            VolumeInfo from = volumes.get(source); // null once the source volume is deleted
            List<String> allowed = from == null ? null : clients.of(from);
            if (allowed != null) {
                clients.set(store.volume(clone), allowed);
            }
        });
        return Reply.created(new CloneView(clones), "/v1/volumes");
    }

    private static long id(ApiRequest request) {
        return BackupResource.id(request, "snapshot");
    }

    static Duration timeout(Long timeoutMs) {
        if (timeoutMs == null) {
            return GroupBarrier.DEFAULT_TIMEOUT;
        }
        if (timeoutMs < 1 || timeoutMs > GroupBarrier.MAX_TIMEOUT.toMillis()) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'timeoutMs' must be between 1 and "
                    + GroupBarrier.MAX_TIMEOUT.toMillis() + ", got " + timeoutMs);
        }
        return Duration.ofMillis(timeoutMs);
    }
}

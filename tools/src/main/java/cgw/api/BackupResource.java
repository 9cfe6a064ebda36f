package cgw.api;

import cgw.api.jobs.BackupJobs;
import cgw.api.jobs.Job;
import cgw.api.jobs.JobView;
import cgw.backup.Exporter;
import cgw.backup.Manifest;
import cgw.backup.Repository;
import cgw.backup.RepositoryAccess;
import cgw.backup.Restorer;
import cgw.backup.SnapshotExistsException;
import cgw.barrier.GroupBarrier;
import cgw.barrier.Snapshot;
import cgw.store.BlockStore;
import cgw.store.VolumeExistsException;
import cgw.store.VolumeInfo;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code POST /v1/snapshots/{id}/export}, {@code POST /v1/restores} and {@code /v1/jobs/{id}}.
 * What can be checked before a job starts is checked here, on the store pool, and refused with
 * 400/404/409 instead of a failed job: the snapshot, the target, the repository and its key, the
 * incremental base, the names a restore would take. The job then runs on {@link BackupJobs}.
 */
final class BackupResource {
    /** The body of {@code POST /v1/snapshots/{id}/export}. */
    record ExportBody(String target, Long incrementalFrom) {
    }

    /** The body of {@code POST /v1/restores}. */
    /** The body of {@code GET /v1/jobs}: the jobs the gateway remembers, newest first. */
    record JobList(List<JobView> jobs) {
    }

    record RestoreBody(String source, Long snapshot, String prefix) {
    }

    private final BlockStore store;
    private final GroupBarrier barrier;
    private final BackupJobs jobs;
    private final RepositoryAccess access;
    private final String gatewayName;

    /** {@code gatewayName}: recorded in each manifest as the snapshot's source. */
    BackupResource(BlockStore store, GroupBarrier barrier, BackupJobs jobs, RepositoryAccess access,
            String gatewayName) {
        this.store = store;
        this.barrier = barrier;
        this.jobs = jobs;
        this.access = access;
        this.gatewayName = gatewayName;
    }

    void addTo(Routes routes) {
        routes.addGuarded(HttpMethod.POST, "/v1/snapshots/{id}/export", this::export)
                .addGuarded(HttpMethod.POST, "/v1/restores", this::restore)
                .addGuarded(HttpMethod.GET, "/v1/jobs",
                        request -> Reply.ok(new JobList(jobs.jobs().stream().map(Job::view).toList())))
                .addGuarded(HttpMethod.GET, "/v1/jobs/{id}", request -> Reply.ok(jobs.job(id(request, "job")).view()))
                .addGuarded(HttpMethod.DELETE, "/v1/jobs/{id}", this::cancel);
    }

    private Reply export(ApiRequest request) throws IOException {
        Snapshot snapshot = barrier.snapshot(id(request, "snapshot"));
        ExportBody body = ApiJson.read(request.body(), ExportBody.class);
        String target = required("target", body.target());
        Snapshot parent = body.incrementalFrom() == null ? null : parent(snapshot, body.incrementalFrom());
        Repository repository = access.open(target, true);
        try {
            if (repository.hasSnapshot(snapshot.id())) {
                throw new SnapshotExistsException(
                        "snapshot " + snapshot.id() + " is already in " + repository.describe());
            }
            if (parent != null) {
                // 404 or 409 now, rather than a failed job, when the base is not there or is another snapshot
                Exporter.checkBase(repository.readManifest(parent.id()), parent, repository.describe());
            }
        } catch (RuntimeException e) {
            repository.close();
            throw e;
        }
        Job job = jobs.submit(new Job.Request(Job.Kind.EXPORT, target, snapshot.id(), body.incrementalFrom(), null),
                repository, options -> new Exporter(store, repository, options, gatewayName).export(snapshot, parent));
        return accepted(job);
    }

    /** The base of an incremental export: an older snapshot, still on this gateway, of the same volumes. */
    private Snapshot parent(Snapshot snapshot, long parentId) {
        Snapshot parent = barrier.snapshot(parentId);
        if (parentId >= snapshot.id()) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'incrementalFrom' must name a snapshot older than "
                    + snapshot.id() + ", got " + parentId);
        }
        if (!volumeIds(parent).equals(volumeIds(snapshot))) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'incrementalFrom': snapshot " + parentId + " holds "
                    + parent.volumeNames() + ", snapshot " + snapshot.id() + " holds " + snapshot.volumeNames()
                    + "; an incremental export needs the same volumes");
        }
        return parent;
    }

    private static Set<Long> volumeIds(Snapshot snapshot) {
        return snapshot.members().stream().map(Snapshot.Member::volumeId).collect(Collectors.toSet());
    }

    private Reply restore(ApiRequest request) throws IOException {
        RestoreBody body = ApiJson.read(request.body(), RestoreBody.class);
        String source = required("source", body.source());
        String prefix = required("prefix", body.prefix());
        if (body.snapshot() == null || body.snapshot() < 1) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'snapshot' must be a positive snapshot id, got "
                    + body.snapshot());
        }
        long snapshotId = body.snapshot();
        Repository repository = access.open(source, false);
        try {
            Manifest manifest = repository.readManifest(snapshotId);
            Set<String> existing = store.volumes().stream().map(VolumeInfo::name).collect(Collectors.toSet());
            List<String> taken = manifest.volumes().stream().map(v -> prefix + v.name()).filter(existing::contains)
                    .toList();
            if (!taken.isEmpty()) {
                throw new VolumeExistsException("cannot restore snapshot " + snapshotId + ": volumes exist: "
                        + String.join(", ", taken));
            }
        } catch (RuntimeException e) {
            repository.close();
            throw e;
        }
        Job job = jobs.submit(new Job.Request(Job.Kind.RESTORE, source, snapshotId, null, prefix), repository,
                options -> new Restorer(store, repository, options).restore(snapshotId, prefix));
        return accepted(job);
    }

    private Reply cancel(ApiRequest request) {
        return new Reply(HttpResponseStatus.ACCEPTED, jobs.cancel(id(request, "job")).view(), Map.of());
    }

    private static Reply accepted(Job job) {
        return new Reply(HttpResponseStatus.ACCEPTED, job.view(), Map.of("Location", "/v1/jobs/" + job.id()));
    }

    private static String required(String field, String value) {
        if (value == null || value.isEmpty()) {
            throw new ApiException(ApiError.BAD_REQUEST, "field '" + field + "' is required");
        }
        return value;
    }

    static long id(ApiRequest request, String what) {
        String text = request.pathParam("id");
        if (!text.matches("[1-9][0-9]{0,17}")) {
            throw new ApiException(ApiError.BAD_REQUEST, what + " id must be a positive integer, got '" + text + "'");
        }
        return Long.parseLong(text);
    }
}

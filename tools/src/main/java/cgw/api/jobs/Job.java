package cgw.api.jobs;

import java.time.Instant;

/**
 * One export or restore: what was asked, and how far it got. Its job thread moves it through its
 * states and reports progress; REST threads read it and may ask it to cancel. State changes are
 * guarded by the job's monitor so that a cancel of a queued job and its start cannot both win;
 * the progress counters are only published (volatile).
 */
public final class Job {
    /** What a job does. */
    public enum Kind {
        EXPORT,
        RESTORE
    }

    /**
     * What was asked.
     *
     * @param repository      the export's target or the restore's source ({@code file:///...}, {@code s3://...})
     * @param snapshotId      the snapshot exported or restored
     * @param incrementalFrom the export's base snapshot, or null (a full export; always null for a restore)
     * @param prefix          the restore's volume name prefix, or null for an export
     */
    public record Request(Kind kind, String repository, long snapshotId, Long incrementalFrom, String prefix) {
    }

    private final long id;
    private final Request request;
    private final Instant createdAt = Instant.now();
    private JobState state = JobState.RUNNING; // guarded by this
    private boolean started; // guarded by this
    private volatile boolean cancelRequested;
    private volatile long bytesDone;
    private volatile long bytesTotal;
    private volatile String error;
    private volatile Object result;
    private volatile Instant startedAt;
    private volatile Instant finishedAt;

    Job(long id, Request request) {
        this.id = id;
        this.request = request;
    }

    public long id() {
        return id;
    }

    public Request request() {
        return request;
    }

    public synchronized JobState state() {
        return state;
    }

    public boolean cancelRequested() {
        return cancelRequested;
    }

    /** Marks the job started; false when it was cancelled while queued (then it must not run). */
    synchronized boolean start() {
        if (state != JobState.RUNNING) {
            return false;
        }
        started = true;
        startedAt = Instant.now();
        return true;
    }

    /**
     * Asks the job to stop: a queued one ends {@code cancelled} at once, a running one when its
     * thread next polls. {@link JobFinishedException} when it already ended.
     */
    synchronized void cancel() {
        if (state.finished()) {
            throw new JobFinishedException("job " + id + " already ended " + state.json());
        }
        cancelRequested = true;
        if (!started) {
            end(JobState.CANCELLED, null, null);
        }
    }

    void progress(long done, long total) {
        bytesDone = done;
        bytesTotal = total;
    }

    synchronized void end(JobState finalState, Object jobResult, String failure) {
        if (!finalState.finished()) {
            throw new IllegalArgumentException("a job cannot end " + finalState);
        }
        if (state.finished()) {
            throw new IllegalStateException("job " + id + " already ended " + state.json());
        }
        result = jobResult;
        error = failure;
        finishedAt = Instant.now();
        state = finalState;
    }

    /** A consistent copy for the API. */
    public synchronized JobView view() {
        return new JobView(id, request.kind().name().toLowerCase(java.util.Locale.ROOT), state,
                request.kind() == Kind.EXPORT ? request.repository() : null,
                request.kind() == Kind.RESTORE ? request.repository() : null,
                request.snapshotId(), request.incrementalFrom(), request.prefix(), bytesDone, bytesTotal, error,
                createdAt.toString(), startedAt == null ? null : startedAt.toString(),
                finishedAt == null ? null : finishedAt.toString(), result);
    }
}

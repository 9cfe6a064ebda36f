package cgw.api.jobs;

import cgw.backup.BackupCancelledException;
import cgw.backup.JobOptions;
import cgw.host.NamedThreads;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the gateway's backup jobs: at most {@code maxRunning} at once on its own threads, up to
 * {@link #MAX_QUEUED} more waiting, each paced so that together they read at most the gateway's
 * backup rate. Jobs live in memory only (a restart forgets them; what they wrote stays), the
 * newest {@link #MAX_FINISHED_KEPT} finished ones kept for {@code GET /v1/jobs/{id}}. Safe from
 * any thread; {@link #close} cancels every job and waits for the running ones to stop.
 */
public final class BackupJobs implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BackupJobs.class);
    /** Jobs waiting for a slot; one more is refused (503) rather than queued without bound. */
    public static final int MAX_QUEUED = 64;
    /** Finished jobs remembered; older ones are forgotten first. */
    static final int MAX_FINISHED_KEPT = 1000;
    /** How long {@link #close} waits for cancelled jobs to reach a chunk boundary before interrupting them. */
    private static final long CLOSE_WAIT_SECONDS = 60;

    /** What a job runs, given its options (progress, cancellation, pace); returns what it reports when done. */
    @FunctionalInterface
    public interface Work {
        Object run(JobOptions options);
    }

    private final ThreadPoolExecutor pool;
    private final JobOptions options;
    private final AtomicLong lastId = new AtomicLong();
    private final Map<Long, Job> jobs = new ConcurrentSkipListMap<>();

    /**
     * @param maxRunning       jobs run at once (1 to 16)
     * @param bytesPerSecond   the gateway's backup rate, shared by the running jobs: each gets its
     *                         share {@code bytesPerSecond / maxRunning}; 0 for no limit
     * @param options          the rest of every job's options (threads, zstd level)
     */
    public BackupJobs(int maxRunning, long bytesPerSecond, JobOptions options) {
        if (maxRunning < 1 || maxRunning > 16) {
            throw new IllegalArgumentException("maxRunning must be in [1, 16], got " + maxRunning);
        }
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException(
                    "bytesPerSecond must be 0 (no limit) or positive, got " + bytesPerSecond);
        }
        this.options = options.withBytesPerSecond(bytesPerSecond == 0 ? 0 : Math.max(1, bytesPerSecond / maxRunning));
        this.pool = new ThreadPoolExecutor(maxRunning, maxRunning, 0, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(MAX_QUEUED), NamedThreads.numbered("backup-job", true));
    }

    /**
     * Queues {@code work}; the job is {@code running} from now on. {@code resource} (the opened
     * repository) is closed once the job ends, however it ends. {@link RejectedExecutionException}
     * (closing it) when the queue is full or the gateway stops.
     */
    public Job submit(Job.Request request, AutoCloseable resource, Work work) {
        Job job = new Job(lastId.incrementAndGet(), request);
        jobs.put(job.id(), job);
        try {
            pool.execute(() -> run(job, resource, work));
        } catch (RejectedExecutionException e) {
            jobs.remove(job.id());
            close(resource, job);
            throw e;
        }
        forgetOldJobs();
        log.info("job {} queued: {}", job.id(), request);
        return job;
    }

    /** The job with this id; {@link JobNotFoundException} when none. */
    public Job job(long id) {
        Job job = jobs.get(id);
        if (job == null) {
            throw new JobNotFoundException("no job " + id + " on this gateway (jobs are forgotten when it restarts)");
        }
        return job;
    }

    /** The jobs remembered (every running one, the latest finished ones), newest first. */
    public List<Job> jobs() {
        List<Job> newestFirst = new ArrayList<>(jobs.values());
        Collections.reverse(newestFirst);
        return newestFirst;
    }

    /** Cancels a queued or running job; {@link JobFinishedException} when it already ended. */
    public Job cancel(long id) {
        Job job = job(id);
        job.cancel();
        log.info("job {}: cancel requested", id);
        return job;
    }

    /** Runs the job; its repository is closed (its lock gone) before the job shows how it ended. */
    private void run(Job job, AutoCloseable resource, Work work) {
        if (!job.start()) {
            close(resource, job); // cancelled while queued
            return;
        }
        JobState end = JobState.FAILED;
        Object result = null;
        String failure = null;
        try {
            result = work.run(options.withProgress(job::progress).withCancelled(job::cancelRequested));
            end = JobState.DONE;
            log.info("job {} done: {}", job.id(), result);
        } catch (BackupCancelledException e) {
            end = JobState.CANCELLED;
            log.info("job {} cancelled", job.id());
        } catch (RuntimeException | Error e) {
            log.warn("job {} ({}) failed", job.id(), job.request(), e);
            failure = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            if (e instanceof Error error) {
                close(resource, job);
                job.end(end, null, failure);
                throw error;
            }
        }
        close(resource, job);
        job.end(end, result, failure);
    }

    private static void close(AutoCloseable resource, Job job) {
        try {
            resource.close();
        } catch (Exception e) {
            log.error("job {}: closing its repository failed", job.id(), e);
        }
    }

    /** Drops the oldest finished jobs beyond {@link #MAX_FINISHED_KEPT}; running ones are always kept. */
    private void forgetOldJobs() {
        int excess = jobs.size() - MAX_FINISHED_KEPT - pool.getMaximumPoolSize() - MAX_QUEUED;
        for (Iterator<Job> it = jobs.values().iterator(); excess > 0 && it.hasNext();) {
            if (it.next().state().finished()) {
                it.remove();
                excess--;
            }
        }
    }

    /**
     * Cancels every job that has not ended and waits for the running ones to stop at a chunk
     * boundary (an export then leaves no manifest, a restore deletes what it created). Idempotent.
     */
    @Override
    public void close() {
        pool.shutdown();
        for (Job job : jobs.values()) {
            try {
                job.cancel();
            } catch (JobFinishedException e) {
                // ended meanwhile: nothing to stop
                log.debug("job {} ended before shutdown cancelled it", job.id());
            }
        }
        try {
            if (!pool.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
                log.warn("backup jobs still running after {} s; interrupting them", CLOSE_WAIT_SECONDS);
                pool.shutdownNow();
                pool.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            pool.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}

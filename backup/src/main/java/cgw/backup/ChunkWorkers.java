package cgw.backup;

import cgw.host.NamedThreads;
import cgw.host.Pacer;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The bounded pool a job hands its chunks to: at most {@code 2 x threads} tasks queued or
 * running, so the job's thread blocks instead of reading a volume into memory. The first task
 * that fails stops the job: later submissions and {@link #awaitAll} rethrow its exception. Also
 * paces submissions to a byte rate and polls cancellation. Used by one job thread; the tasks run
 * on the pool's threads.
 */
final class ChunkWorkers implements AutoCloseable {
    private static final AtomicInteger POOLS = new AtomicInteger();

    private final ExecutorService pool;
    private final Semaphore slots;
    private final int slotCount;
    private final AtomicReference<RuntimeException> failure = new AtomicReference<>();
    private final JobOptions options;
    private final Pacer pacer;
    /** Bytes finished, for progress; tasks add to it. */
    final AtomicLong bytesDone = new AtomicLong();
    private final long bytesTotal;

    /** A pool for a job of {@code bytesTotal} bytes, for progress reports. */
    ChunkWorkers(String job, JobOptions options, long bytesTotal) {
        this.options = options;
        this.pacer = new Pacer(options.bytesPerSecond() == 0 ? Pacer.UNLIMITED : options.bytesPerSecond());
        this.bytesTotal = bytesTotal;
        this.slotCount = 2 * options.threads();
        this.slots = new Semaphore(slotCount);
        this.pool = Executors.newFixedThreadPool(options.threads(),
                NamedThreads.numbered("backup-" + job + "-" + POOLS.incrementAndGet(), true));
    }

    /**
     * Runs {@code task} on the pool once a slot is free, after reporting progress and pacing
     * {@code bytes} against the rate limit. Throws the first failure of an earlier task, or
     * {@link BackupCancelledException}.
     */
    void submit(long bytes, Runnable task) {
        checkFailure();
        reportProgress();
        if (options.cancelled().getAsBoolean()) {
            throw new BackupCancelledException("cancelled");
        }
        try {
            pacer.pace(bytes);
        } catch (InterruptedException e) {
            throw cancelledByInterrupt();
        }
        acquire(1);
        try {
            pool.execute(() -> {
                try {
                    task.run();
                } catch (RuntimeException | Error e) {
                    failure.compareAndSet(null, e instanceof RuntimeException r
                            ? r
                            : new BackupException("chunk task failed: " + e, e));
                } finally {
                    slots.release();
                }
            });
        } catch (RuntimeException e) {
            slots.release();
            throw e;
        }
    }

    /** Waits until every submitted task finished; rethrows the first failure, else reports progress. */
    void awaitAll() {
        acquire(slotCount);
        slots.release(slotCount);
        checkFailure();
        reportProgress();
    }

    private void reportProgress() {
        options.progress().progress(bytesDone.get(), bytesTotal);
    }

    private void checkFailure() {
        RuntimeException e = failure.get();
        if (e != null) {
            throw e;
        }
    }

    private void acquire(int permits) {
        try {
            slots.acquire(permits);
        } catch (InterruptedException e) {
            throw cancelledByInterrupt();
        }
    }

    /** An interrupt cancels the job; the thread keeps its interrupt status for its caller. */
    private static BackupCancelledException cancelledByInterrupt() {
        Thread.currentThread().interrupt();
        return new BackupCancelledException("interrupted");
    }

    /** Waits for running tasks (their writes stay valid) and stops the pool. Idempotent. */
    @Override
    public void close() {
        pool.shutdown();
        try {
            if (!pool.awaitTermination(1, TimeUnit.MINUTES)) {
                pool.shutdownNow();
            }
        } catch (InterruptedException e) {
            pool.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}

package cgw.backup;

import java.util.function.BooleanSupplier;

/**
 * How an export, restore or verify runs.
 *
 * @param threads        workers reading, hashing, compressing and storing chunks (1 to 64). A
 *                       chunk costs little CPU and far more waiting on the target (an fsync,
 *                       an HTTP PUT), so there are more workers than cores; the rate
 *                       limit, not the pool size, is what keeps guest I/O served
 * @param zstdLevel      zstd level of new chunks (1 to 19)
 * @param bytesPerSecond pace of reads from the source (the store on export, the repository on
 *                       restore), 0 for no limit, so that guest I/O is not starved
 * @param progress       told of bytes done out of bytes total, from the job's thread
 * @param cancelled      polled between chunks; once true the job stops, and what it wrote stays valid
 */
public record JobOptions(int threads, int zstdLevel, long bytesPerSecond, ProgressListener progress,
        BooleanSupplier cancelled) {
    public static final int MAX_THREADS = 64;

    public JobOptions {
        if (threads < 1 || threads > MAX_THREADS) {
            throw new IllegalArgumentException("threads must be in [1, " + MAX_THREADS + "], got " + threads);
        }
        if (zstdLevel < 1 || zstdLevel > 19) {
            throw new IllegalArgumentException("zstdLevel must be in [1, 19], got " + zstdLevel);
        }
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException(
                    "bytesPerSecond must be 0 (no limit) or positive, got " + bytesPerSecond);
        }
    }

    /** Told how far a job got. */
    @FunctionalInterface
    public interface ProgressListener {
        void progress(long bytesDone, long bytesTotal);
    }

    /** Eight workers (more than cores: they mostly wait on the target); zstd level 3; no rate limit; never cancelled. */
    public static JobOptions defaults() {
        return new JobOptions(8, 3, 0, (done, total) -> {
        }, () -> false);
    }

    public JobOptions withThreads(int value) {
        return new JobOptions(value, zstdLevel, bytesPerSecond, progress, cancelled);
    }

    public JobOptions withBytesPerSecond(long value) {
        return new JobOptions(threads, zstdLevel, value, progress, cancelled);
    }

    public JobOptions withProgress(ProgressListener value) {
        return new JobOptions(threads, zstdLevel, bytesPerSecond, value, cancelled);
    }

    public JobOptions withCancelled(BooleanSupplier value) {
        return new JobOptions(threads, zstdLevel, bytesPerSecond, progress, value);
    }
}

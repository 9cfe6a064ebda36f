package cgw.api;

import cgw.host.NamedThreads;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bounded pool that runs every API call that touches the store, so no event loop ever waits
 * on RocksDB. A fixed number of threads and a fixed queue: when both are full, {@link #execute}
 * refuses at once (the caller answers 503) instead of queueing without limit.
 */
final class StoreCalls implements Executor {
    private static final Logger log = LoggerFactory.getLogger(StoreCalls.class);

    private final ThreadPoolExecutor executor;

    StoreCalls(int threads, int queueLength) {
        this.executor = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(queueLength), NamedThreads.numbered("cgw-api-store", false),
                new ThreadPoolExecutor.AbortPolicy());
    }

    /** @throws RejectedExecutionException when the pool and its queue are full, or closed */
    @Override
    public void execute(Runnable task) {
        executor.execute(task);
    }

    /** Lets queued and running calls finish, up to {@code timeoutMs}; then interrupts the rest. */
    void close(long timeoutMs) {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(timeoutMs, TimeUnit.MILLISECONDS)) {
                log.warn("store calls still running after {} ms; interrupting them", timeoutMs);
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}

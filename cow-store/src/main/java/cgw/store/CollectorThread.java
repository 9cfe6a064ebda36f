package cgw.store;

import cgw.host.NamedThreads;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thread of the store's {@link Collector}: one daemon thread that runs rate-limited passes over the
 * releases pending in the catalog. Woken by releases and deletions, and every few seconds in case
 * a pass failed. Pending work is in the catalog, so a restart resumes it. After each pass it
 * runs a round of the value log's cleaner when one is due ({@link LogCleaner}).
 *
 * <p>Threads: its own thread runs the passes; {@link #wake} and {@link #stop} may be called from
 * any thread. It never holds the catalog lock while it touches RocksDB.
 */
final class CollectorThread {
    private static final Logger log = LoggerFactory.getLogger(CollectorThread.class);
    private static final long IDLE_WAIT_MS = 5_000;
    private static final long FAILURE_BACKOFF_MS = 10_000;

    private final Collector collector;
    private final Durability durability;
    private final long blocksPerSecond;
    private final Object signal = new Object();
    private boolean woken; // guarded by signal
    private volatile boolean stopping;
    private @Nullable Thread thread;

    CollectorThread(Collector collector, Durability durability, long blocksPerSecond) {
        this.collector = collector;
        this.durability = durability;
        this.blocksPerSecond = blocksPerSecond;
    }

    synchronized void start() {
        thread = NamedThreads.thread("cgw-store-gc", true, this::run);
        thread.start();
    }

    void wake() {
        synchronized (signal) {
            woken = true;
            signal.notifyAll();
        }
    }

    /** Stops the thread and waits for it; idempotent. */
    synchronized void stop() {
        stopping = true;
        wake();
        if (thread != null) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            thread = null;
        }
    }

    private void run() {
        while (!stopping) {
            if (durability.failed()) {
                // collecting and cleaning write and relocate; the store takes no writes now
                log.error("a sync of the store failed: garbage collection stops until the gateway is restarted");
                waitForStop();
                return;
            }
            try {
                collector.collectPending(blocksPerSecond);
                collector.cleanValueLog(blocksPerSecond, false);
                waitForWork(IDLE_WAIT_MS);
            } catch (RuntimeException e) {
                if (stopping) {
                    return;
                }
                log.error("garbage collection pass failed; retrying in {} ms", FAILURE_BACKOFF_MS, e);
                waitForWork(FAILURE_BACKOFF_MS);
            }
        }
    }

    private void waitForStop() {
        synchronized (signal) {
            while (!stopping) {
                try {
                    signal.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void waitForWork(long timeoutMs) {
        synchronized (signal) {
            long deadline = System.currentTimeMillis() + timeoutMs;
            while (!woken && !stopping) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) {
                    break;
                }
                try {
                    signal.wait(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            woken = false;
        }
    }
}

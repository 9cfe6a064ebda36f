package cgw.store;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts the store's calls in flight so that {@link BlockStore#close} can refuse new ones and
 * wait for the rest before it closes RocksDB and the value log under them. Any thread.
 */
final class InFlightCalls {
    private static final Logger log = LoggerFactory.getLogger(InFlightCalls.class);
    private static final long WARN_EVERY_NANOS = 5_000_000_000L;

    private final Path dir;
    private final AtomicLong inFlight = new AtomicLong();
    private volatile boolean closed;

    InFlightCalls(Path dir) {
        this.dir = dir;
    }

    /** Counts a call in; throws {@link StoreException} once the store is closed. */
    void enter() {
        inFlight.incrementAndGet();
        if (closed) {
            inFlight.decrementAndGet();
            throw new StoreException("store at " + dir + " is closed");
        }
    }

    void exit() {
        inFlight.decrementAndGet();
    }

    /** Runs {@code call} counted in flight; for calls off the I/O path (it allocates a lambda). */
    <T> T call(Supplier<T> call) {
        enter();
        try {
            return call.get();
        } finally {
            exit();
        }
    }

    /** {@link #call} of a call without a result. */
    void run(Runnable call) {
        enter();
        try {
            call.run();
        } finally {
            exit();
        }
    }

    boolean isClosed() {
        return closed;
    }

    /** Refuses new calls; true for the first caller only, who must then {@link #awaitNone}. */
    synchronized boolean close() {
        if (closed) {
            return false;
        }
        closed = true;
        return true;
    }

    /** Waits until no call is in flight, warning every 5 s while it waits. */
    void awaitNone() {
        long waitingSince = System.nanoTime();
        long nextWarning = waitingSince + WARN_EVERY_NANOS;
        while (inFlight.get() > 0) {
            if (System.nanoTime() > nextWarning) {
                log.warn("closing {}: still waiting for {} calls in flight after {} s", dir, inFlight.get(),
                        (System.nanoTime() - waitingSince) / 1_000_000_000L);
                nextWarning += WARN_EVERY_NANOS;
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                log.warn("interrupted while closing {}; still waiting for calls in flight", dir);
            }
        }
    }
}

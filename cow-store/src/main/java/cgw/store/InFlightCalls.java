package cgw.store;

import cgw.host.InFlight;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * The store's calls in flight ({@link InFlight}), so that {@link BlockStore#close} can refuse new
 * ones with a {@link StoreException} and wait for the rest before it closes RocksDB and the value
 * log under them. Any thread.
 */
final class InFlightCalls {
    private final Path dir;
    private final InFlight inFlight;

    InFlightCalls(Path dir) {
        this.dir = dir;
        this.inFlight = new InFlight("store at " + dir);
    }

    /** Counts a call in; throws {@link StoreException} once the store is closed. */
    void enter() {
        if (!inFlight.tryEnter()) {
            throw closed();
        }
    }

    private StoreException closed() {
        return new StoreException("store at " + dir + " is closed");
    }

    void exit() {
        inFlight.exit();
    }

    boolean isClosed() {
        return inFlight.refusing();
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

    /** Refuses new calls; true for the first caller only, who must then {@link #awaitNone}. */
    boolean close() {
        return inFlight.refuse();
    }

    /** Waits, however long it takes, until no call is in flight (warning every 5 s meanwhile). */
    void awaitNone() {
        inFlight.drainUninterruptibly();
    }
}

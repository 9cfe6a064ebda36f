package cgw.host;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Remembers the first failed sync of a set of files. Linux reports a writeback error to one
 * {@code fsync} and then marks the pages clean, so a retry succeeds without the data: after one
 * failure nothing written since the last good sync can be trusted to be on the disk, and no later
 * sync may claim it is (PostgreSQL's rule). The owner asks {@link #failure} before every sync and
 * refuses with it until it is restarted.
 *
 * <p>Threads: any.
 */
public final class SyncLatch {
    private final AtomicReference<IOException> first = new AtomicReference<>();

    /** Records {@code failure} unless one is recorded already; returns it, for the caller to throw. */
    public IOException fail(IOException failure) {
        first.compareAndSet(null, failure);
        return failure;
    }

    /** The first failed sync, or null while every sync succeeded. */
    public IOException failure() {
        return first.get();
    }

    public boolean failed() {
        return first.get() != null;
    }
}

package cgw.store;

import cgw.host.SyncLatch;
import java.io.IOException;
import java.nio.file.Path;
import org.rocksdb.RocksDBException;

/**
 * Whether the store's syncs still hold. The first failed sync (value log, CRC table, WAL, a
 * cleaner's copy) is kept, and from then on everything that writes or syncs refuses with it:
 * Linux reports a writeback error once, so a retried sync would succeed without the data.
 *
 * <p>Threads: any.
 */
final class Durability {
    private final Path dir;
    private final SyncLatch latch = new SyncLatch();

    Durability(Path dir) {
        this.dir = dir;
    }

    /** Records a failed sync of {@code what}; returns the exception to throw. */
    StoreFailedException failed(String what, IOException cause) {
        latch.fail(cause);
        return new StoreFailedException("sync of " + what + " failed: " + cause.getMessage()
                + "; the store refuses writes and flushes until the gateway is restarted", cause);
    }

    /** {@link #failed(String, IOException)} for RocksDB's WAL. */
    StoreFailedException failed(String what, RocksDBException cause) {
        return failed(what, new IOException(cause.getMessage(), cause));
    }

    /** Throws when a sync failed: the caller is about to write, sync or relocate. */
    void check() {
        IOException first = latch.failure();
        if (first != null) {
            throw new StoreFailedException("store at " + dir + " refuses writes since a sync failed ("
                    + first.getMessage() + "); restart the gateway: writes since the last successful flush"
                    + " may be lost", first);
        }
    }

    boolean failed() {
        return latch.failed();
    }
}

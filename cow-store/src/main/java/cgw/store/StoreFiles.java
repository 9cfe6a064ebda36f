package cgw.store;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's files and the rules for syncing and closing them: RocksDB, the value log, the
 * flush that syncs both ({@link WalSync}), the order of memtable flushes ({@link FlushOrder}) and
 * what a failed sync means ({@link Durability}). Opened first and closed last by
 * {@link BlockStore}.
 *
 * <p>Threads: any; {@link #close} once, when no call is in flight.
 */
final class StoreFiles implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StoreFiles.class);

    final Path dir;
    final Rocks rocks;
    final ValueLog valueLog;
    final Durability durability;
    final WalSync walSync;
    private final FlushOrder flushOrder;

    private StoreFiles(Path dir, Rocks rocks, ValueLog valueLog, Durability durability, FlushOrder flushOrder) {
        this.dir = dir;
        this.rocks = rocks;
        this.valueLog = valueLog;
        this.durability = durability;
        this.flushOrder = flushOrder;
        this.walSync = new WalSync(rocks.db, valueLog, durability);
    }

    /** Opens (creating when missing) the files of the store in {@code dir}; RocksDB gets {@code cacheBytes}. */
    static StoreFiles open(Path dir, StoreOptions options, long cacheBytes) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            String reason = e instanceof FileSystemException fs && fs.getReason() != null
                    ? fs.getReason()
                    : e.toString();
            throw new StoreException("cannot create store directory " + dir + ": " + reason, e);
        }
        FlushOrder flushOrder = new FlushOrder();
        Rocks rocks = Rocks.open(dir, options, cacheBytes, flushOrder);
        try {
            long segmentBytes = options.valueLogSegmentBytes() > 0
                    ? options.valueLogSegmentBytes()
                    : StoreOptions.defaults().valueLogSegmentBytes();
            Durability durability = new Durability(dir);
            ValueLog valueLog = ValueLog.open(dir, segmentBytes, durability);
            flushOrder.syncFirst(valueLog);
            return new StoreFiles(dir, rocks, valueLog, durability, flushOrder);
        } catch (RuntimeException e) {
            try {
                rocks.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * Syncs and closes everything. Throws when the final sync or a close failed, after closing
     * what it can ({@link StoreFailedException} once a sync failed), so that {@code cgw serve}
     * exits non-zero.
     */
    @Override
    public void close() {
        StoreException failure = null;
        try {
            walSync.sync();
        } catch (StoreException e) {
            failure = e;
        }
        walSync.close();
        try {
            if (flushOrder.holding()) {
                // closing would wait for the flush FlushOrder holds back; the process ends anyway
                log.error("leaving RocksDB at {} open: a flush waits on a failed sync", dir);
            } else {
                rocks.close();
            }
        } catch (StoreException e) {
            if (failure == null) {
                failure = e;
            } else {
                failure.addSuppressed(e);
            }
        } finally {
            valueLog.close();
        }
        if (failure != null) {
            String message = "closing store at " + dir + " failed: " + failure.getMessage();
            throw durability.failed()
                    ? new StoreFailedException(message, failure)
                    : new StoreException(message, failure);
        }
    }
}

package cgw.store;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;
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
    /** The store's block size, as its catalog records it. */
    final int blockSize;
    private final FlushOrder flushOrder;
    private final DurableMark mark;
    private final FlushedOverwrites overwrites;

    private StoreFiles(Path dir, Rocks rocks, ValueLog valueLog, DurableMark mark, FlushedOverwrites overwrites,
            Durability durability, FlushOrder flushOrder, int blockSize) {
        this.dir = dir;
        this.rocks = rocks;
        this.valueLog = valueLog;
        this.mark = mark;
        this.overwrites = overwrites;
        this.durability = durability;
        this.flushOrder = flushOrder;
        this.blockSize = blockSize;
        this.walSync = new WalSync(rocks.db, valueLog, mark, durability);
    }

    /**
     * Opens (creating when missing) the files of the store in {@code dir}; RocksDB gets
     * {@code cacheBytes}. The value log first: RocksDB's replay of its WAL reads the bytes the
     * replayed pointers lead to ({@link ReplayCheck}), after the ranges of flushed bytes a crash
     * may have left overwritten without their CRCs were read ({@link FlushedOverwrites#scrub}).
     * Then everything found is synced and marked durable, so that only what this open appends is
     * judged again.
     */
    static StoreFiles open(Path dir, StoreOptions options, long cacheBytes) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            String reason = e instanceof FileSystemException fs && fs.getReason() != null
                    ? fs.getReason()
                    : e.toString();
            throw new StoreException("cannot create store directory " + dir + ": " + reason, e);
        }
        long segmentBytes = options.valueLogSegmentBytes();
        Durability durability = new Durability(dir);
        Path values = dir.resolve(ValueLog.DIRECTORY);
        DurableMark.Stored stored = DurableMark.read(values);
        ValueLog valueLog = ValueLog.open(dir, segmentBytes, durability,
                stored == null ? LogPosition.START : stored.through());
        Rocks rocks = null;
        DurableMark mark = null;
        FlushedOverwrites overwrites = null;
        try {
            overwrites = FlushedOverwrites.open(values, durability);
            overwrites.scrub(valueLog);
            ReplayCheck replayCheck = new ReplayCheck(valueLog, stored);
            FlushOrder flushOrder = new FlushOrder();
            flushOrder.syncFirst(valueLog);
            rocks = Rocks.open(dir, options, cacheBytes, flushOrder, replayCheck);
            replayCheck.throwIfFailed();
            report(dir, replayCheck);
            // only now that RocksDB's lock is held: a second process must not write
            valueLog.removeOrphanTables();
            FormatUpgrade.upgradeIfNeeded(rocks, valueLog);
            mark = DurableMark.open(values);
            StoreFiles files = new StoreFiles(dir, rocks, valueLog, mark, overwrites, durability, flushOrder,
                    Catalog.loadBlockSize(rocks, options.blockSizeBytes()));
            files.walSync.useBlockSize(files.blockSize);
            overwrites.useBlockSize(files.blockSize);
            valueLog.useFlushedOverwrites(overwrites);
            files.walSync.syncDurable();
            return files;
        } catch (RuntimeException e) {
            closeAfterFailure(e, rocks, mark, overwrites);
            valueLog.close();
            throw e;
        }
    }

    private static void report(Path dir, ReplayCheck replayCheck) {
        if (!replayCheck.judged()) {
            log.info("store at {} has no value log mark yet (an earlier version's): its WAL was replayed unchecked",
                    dir);
        } else if (replayCheck.dropped() > 0) {
            log.warn("store at {} lost writes that were never flushed: {} of the batches replayed from the WAL"
                    + " led to bytes that did not reach the disk and were dropped, so their blocks read as"
                    + " before them (first: {}); {} pointers checked, {} blocks written back from their copies"
                    + " in the WAL", dir, replayCheck.dropped(), replayCheck.firstDropped(), replayCheck.checked(),
                    replayCheck.restored());
        } else if (replayCheck.checked() > 0) {
            log.info("store at {}: {} pointers replayed from the WAL after the last flush checked, all there ({}"
                    + " blocks written back from their copies in the WAL)", dir, replayCheck.checked(),
                    replayCheck.restored());
        }
    }

    private static void closeAfterFailure(RuntimeException failure, @Nullable Rocks rocks,
            @Nullable DurableMark mark, @Nullable FlushedOverwrites overwrites) {
        try {
            if (mark != null) {
                mark.close();
            }
            if (overwrites != null) {
                overwrites.close();
            }
        } catch (IOException | RuntimeException suppressed) {
            failure.addSuppressed(suppressed);
        }
        try {
            if (rocks != null) {
                rocks.close();
            }
        } catch (RuntimeException suppressed) {
            failure.addSuppressed(suppressed);
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
            // the mark too: the next open has nothing to judge
            walSync.syncDurable();
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
            try {
                mark.close();
            } catch (IOException e) {
                log.warn("closing the value log's mark at {} failed", dir, e);
            }
            try {
                overwrites.close();
            } catch (IOException e) {
                log.warn("closing the record of overwritten flushed bytes at {} failed", dir, e);
            }
        }
        if (failure != null) {
            String message = "closing store at " + dir + " failed: " + failure.getMessage();
            throw durability.failed()
                    ? new StoreFailedException(message, failure)
                    : new StoreException(message, failure);
        }
    }
}

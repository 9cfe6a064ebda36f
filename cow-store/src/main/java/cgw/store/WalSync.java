package cgw.store;

import cgw.host.NamedThreads;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

/**
 * Makes acknowledged writes durable: the value log's segments and RocksDB's WAL (which holds the
 * pointers to them and everything else). A flush first freezes the log (no overwrite in place of
 * anything appended so far, {@link OverwriteFence}), then syncs the log, the WAL and the last
 * {@link DurableMark} side by side, each on a thread of its own, so a flush costs one device round
 * trip, not two (the WAL alone when the writes since the log's last sync carry copies of their
 * bytes, {@link WalCopies}); it returns once all are done, so whatever it covers is durable whole. Then, at
 * most once a second or when asked ({@link #syncDurable}), it writes the mark of what this sync
 * made durable, which the next flush syncs. The WAL may reach
 * the disk before the log (the two syncs race, and the kernel writes back at will): after a power
 * cut, {@link ReplayCheck} drops the replayed writes whose bytes did not.
 *
 * <p>Concurrent flushes are grouped into as few syncs as possible, as BookKeeper's journal groups
 * forces. A caller takes a ticket after its writes completed; a sync that starts after the ticket
 * was issued covers it. While one thread syncs, the others queue on the monitor and usually find,
 * once inside, that a sync which started after their ticket has already covered them.
 *
 * <p>Threads: any; the monitor guards {@code coveredTicket} and the mark, and serialises the syncs.
 */
final class WalSync implements AutoCloseable {
    private final RocksDB db;
    private final ValueLog valueLog;
    private final DurableMark mark;
    private final Durability durability;
    private final ExecutorService dataSyncs = Executors
            .newFixedThreadPool(2, NamedThreads.numbered("cgw-store-data-sync", true));
    /**
     * How often a flush writes a new mark: each one it writes costs the next flush a third
     * fdatasync, and a mark that lags only makes the replay after a power cut read more.
     */
    private static final long MARK_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);
    private final AtomicLong issuedTicket = new AtomicLong();
    private long coveredTicket; // guarded by this
    private int blockSize; // guarded by this; 0 until the store's is known
    private long markWrittenNanos = System.nanoTime(); // guarded by this

    WalSync(RocksDB db, ValueLog valueLog, DurableMark mark, Durability durability) {
        this.db = db;
        this.valueLog = valueLog;
        this.mark = mark;
        this.durability = durability;
    }

    /** From now on the marks written name {@code size} as the store's block size. */
    synchronized void useBlockSize(int size) {
        this.blockSize = size;
    }

    /** Fails with {@link StoreFailedException} if this or any earlier sync of the store failed. */
    void sync() {
        long ticket = issuedTicket.incrementAndGet();
        synchronized (this) {
            durability.check();
            if (coveredTicket >= ticket) {
                return;
            }
            long upTo = issuedTicket.get();
            syncAll(false);
            coveredTicket = upTo;
        }
    }

    /**
     * A {@link #sync}, then a sync of the mark it wrote: returns the point before which the value
     * log is durable and the mark on the disk says so. For the cleaner, which removes only
     * segments before it, and for open and close.
     */
    LogPosition syncDurable() {
        synchronized (this) {
            durability.check();
            long upTo = issuedTicket.get();
            syncAll(true);
            coveredTicket = Math.max(coveredTicket, upTo);
            try {
                mark.sync();
            } catch (IOException e) {
                throw durability.failed("the value log's mark", e);
            }
            return mark.durable();
        }
    }

    /** The point before which the value log is durable and the mark on the disk says so. */
    LogPosition durable() {
        return mark.durable();
    }

    /**
     * Syncs the log, the WAL and a pending mark; writes a new mark when {@code markNow} or a second
     * has passed. The WAL alone when every write to the log since its last sync has a copy in it
     * ({@link WalCopies}); then the log is not synced, so nothing counts as synced in it and no mark
     * moves.
     */
    private void syncAll(boolean markNow) {
        // so that the sync after the freeze, while frozen bytes may not be overwritten, is short
        valueLog.syncAhead();
        OverwriteFence.Frozen frozen = valueLog.freeze();
        // after the freeze, which waits for overwrites in flight, so that they are counted
        boolean walOnly = !markNow && valueLog.walCopies().onlyCopiesUnsynced();
        // on the calling thread when nothing is to sync: it then only waits for a sync in progress
        CompletableFuture<Void> data = !walOnly && valueLog.hasUnsynced()
                ? CompletableFuture.runAsync(valueLog::sync, dataSyncs)
                : null;
        CompletableFuture<Void> marked = mark.pending()
                ? CompletableFuture.runAsync(this::syncMark, dataSyncs)
                : null;
        StoreException failure = null;
        try {
            db.flushWal(true);
        } catch (RocksDBException e) {
            failure = durability.failed("RocksDB's WAL", e);
        }
        failure = await(data, "value log", failure);
        failure = await(marked, "value log's mark", failure);
        if (failure == null && data == null && !walOnly) {
            try {
                valueLog.sync();
            } catch (StoreException e) {
                failure = e;
            }
        }
        if (failure != null) {
            throw failure;
        }
        if (walOnly) {
            return;
        }
        valueLog.synced(frozen);
        long now = System.nanoTime();
        if (blockSize > 0 && (markNow || now - markWrittenNanos >= MARK_INTERVAL_NANOS)) {
            mark.write(blockSize, frozen.written());
            markWrittenNanos = now;
        }
    }

    private void syncMark() {
        try {
            mark.sync();
        } catch (IOException e) {
            throw durability.failed("the value log's mark", e);
        }
    }

    private static @Nullable StoreException await(@Nullable CompletableFuture<Void> sync, String what,
            @Nullable StoreException failure) {
        if (sync == null) {
            return failure;
        }
        StoreException thrown = null;
        try {
            sync.get();
        } catch (ExecutionException e) {
            thrown = e.getCause() instanceof StoreException se
                    ? se
                    : new StoreException(what + " sync failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            thrown = new StoreException("interrupted while waiting for the " + what + " sync", e);
        }
        if (thrown == null) {
            return failure;
        }
        if (failure == null) {
            return thrown;
        }
        failure.addSuppressed(thrown);
        return failure;
    }

    @Override
    public void close() {
        dataSyncs.shutdownNow();
    }
}

package cgw.store;

import cgw.host.NamedThreads;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

/**
 * Makes acknowledged writes durable: the value log's segments and RocksDB's WAL (which holds the
 * pointers to them and everything else). The two syncs run side by side, the value log's on a
 * thread of its own, so a flush costs one device round trip, not two; a flush returns once both
 * are done, so whatever it covers is durable whole. (A write nobody flushed may reach the disk
 * with its pointer but not its bytes after a power loss; the pointer's CRC32C turns that into a
 * read error instead of wrong data.)
 *
 * <p>Concurrent flushes are grouped into as few syncs as possible, as BookKeeper's journal groups
 * forces. A caller takes a ticket after its writes completed; a sync that starts after the ticket
 * was issued covers it. While one thread syncs, the others queue on the monitor and usually find,
 * once inside, that a sync which started after their ticket has already covered them.
 *
 * <p>Threads: any; the monitor guards {@code coveredTicket} and serialises the syncs.
 */
final class WalSync implements AutoCloseable {
    private final RocksDB db;
    private final ValueLog valueLog;
    private final Durability durability;
    private final ExecutorService dataSyncs = Executors
            .newSingleThreadExecutor(NamedThreads.single("cgw-store-data-sync", true));
    private final AtomicLong issuedTicket = new AtomicLong();
    private long coveredTicket; // guarded by this

    WalSync(RocksDB db, ValueLog valueLog, Durability durability) {
        this.db = db;
        this.valueLog = valueLog;
        this.durability = durability;
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
            CompletableFuture<Void> data = valueLog.hasUnsynced()
                    ? CompletableFuture.runAsync(valueLog::sync, dataSyncs)
                    : null;
            StoreException failure = null;
            try {
                db.flushWal(true);
            } catch (RocksDBException e) {
                failure = durability.failed("RocksDB's WAL", e);
            }
            if (data != null) {
                try {
                    data.get();
                } catch (ExecutionException e) {
                    StoreException dataFailure = e.getCause() instanceof StoreException se
                            ? se
                            : new StoreException("value log sync failed: " + e.getCause(), e.getCause());
                    if (failure == null) {
                        failure = dataFailure;
                    } else {
                        failure.addSuppressed(dataFailure);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failure = new StoreException("interrupted while waiting for the value log sync", e);
                }
            }
            if (failure != null) {
                throw failure;
            }
            coveredTicket = upTo;
        }
    }

    @Override
    public void close() {
        dataSyncs.shutdownNow();
    }
}

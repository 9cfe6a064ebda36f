package cgw.store;

import java.util.concurrent.atomic.AtomicLong;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

/**
 * Groups concurrent flushes into as few WAL syncs as possible, as BookKeeper's journal groups
 * forces. A caller takes a ticket after its writes completed; a sync that starts after the ticket
 * was issued covers it. While one thread syncs, the others queue on the monitor and usually find,
 * once inside, that a sync which started after their ticket has already covered them.
 *
 * <p>Threads: any; the monitor guards {@code coveredTicket} and serialises the syncs.
 */
final class WalSync {
    private final RocksDB db;
    private final AtomicLong issuedTicket = new AtomicLong();
    private long coveredTicket; // guarded by this

    WalSync(RocksDB db) {
        this.db = db;
    }

    void sync() {
        long ticket = issuedTicket.incrementAndGet();
        synchronized (this) {
            if (coveredTicket >= ticket) {
                return;
            }
            long upTo = issuedTicket.get();
            try {
                db.flushWal(true);
            } catch (RocksDBException e) {
                throw new StoreException("WAL sync failed: " + e.getMessage(), e);
            }
            coveredTicket = upTo;
        }
    }
}

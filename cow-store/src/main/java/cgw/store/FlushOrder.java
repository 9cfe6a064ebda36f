package cgw.store;

import java.util.concurrent.CountDownLatch;
import org.jspecify.annotations.Nullable;
import org.rocksdb.AbstractEventListener;
import org.rocksdb.FlushJobInfo;
import org.rocksdb.RocksDB;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the value log durable before RocksDB writes a memtable to a table file. RocksDB syncs the
 * file it flushes, so the pointers in it are on the disk at once, while writes nobody flushed
 * have their bytes only in the page cache: without this, a power cut leaves pointers to bytes
 * that never reached the disk, and the blocks fail their checksums instead of reading as before.
 * The log is frozen first ({@link OverwriteFence}): nothing a table file leads to is overwritten
 * in place afterwards, since {@link ReplayCheck} never sees table files.
 *
 * <p>If that sync fails, the flush must not go on: this thread (one of RocksDB's) then waits
 * until the process ends. The store is failed ({@link Durability}) and takes no writes that would
 * need another flush; it cannot close RocksDB, which would wait for this flush ({@link #holding}).
 *
 * <p>Threads: RocksDB's flush threads call {@link #onFlushBegin}; the others any.
 */
final class FlushOrder extends AbstractEventListener {
    private static final Logger log = LoggerFactory.getLogger(FlushOrder.class);

    static {
        RocksDB.loadLibrary(); // the listener is a native object, made before RocksDB is opened
    }

    private final CountDownLatch never = new CountDownLatch(1);
    private volatile @Nullable ValueLog valueLog;
    private volatile boolean holding;

    FlushOrder() {
        super(EnabledEventCallback.ON_FLUSH_BEGIN);
    }

    /** From now on every memtable flush first syncs {@code values}. */
    void syncFirst(ValueLog values) {
        this.valueLog = values;
    }

    /** Whether a flush waits forever on a failed sync: RocksDB cannot be closed. */
    boolean holding() {
        return holding;
    }

    @Override
    public void onFlushBegin(RocksDB db, FlushJobInfo info) {
        ValueLog values = valueLog;
        if (values == null) {
            return; // opening: the value log is not open yet, and nothing was written since
        }
        try {
            values.syncAhead();
            // frozen first: bytes the table file's pointers lead to must stay as they are synced
            OverwriteFence.Frozen frozen = values.freeze();
            values.sync();
            values.synced(frozen);
        } catch (RuntimeException e) {
            holding = true;
            log.error("the value log could not be synced before a flush of {}: the flush waits until the"
                    + " gateway is restarted", info.getColumnFamilyName(), e);
            hold();
        }
    }

    /** Never returns. */
    private void hold() {
        for (;;) {
            try {
                never.await();
            } catch (InterruptedException e) {
                // waits on regardless: what this flush would write must never reach the disk
                log.debug("interrupted while holding a flush back", e);
            }
        }
    }
}

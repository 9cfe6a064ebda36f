package cgw.store;

import java.util.Comparator;
import java.util.Iterator;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Which bytes of the value log may still be overwritten in place, and through where appended
 * bytes are all written. Page and CRC slot of an overwrite reach the disk in any order, so after a
 * power cut an overwritten location may match neither CRC. Where no flush covered the location
 * yet (it is not <em>frozen</em>) that is harmless: every pointer to it is unflushed too, in
 * RocksDB's WAL, for {@link ReplayCheck} to judge. A frozen location is overwritten in place only
 * once it is durable and its range is recorded in {@link FlushedOverwrites} (synced before its
 * bytes change), whose ranges the next open takes as they are (docs/store.md, "Power cuts").
 * Whatever syncs the log for a flush, a memtable flush or a relocation {@link #freeze}s first.
 *
 * <p>Threads: any. Writes that may overwrite in place hold the {@link #permit} from choosing their
 * targets until their bytes are written (never across a RocksDB call, which may wait for a
 * memtable flush, which waits here); a freeze takes the write side, so it waits for them.
 */
final class OverwriteFence {
    private static final Comparator<ValueLog.Reservation> IN_LOG_ORDER = Comparator
            .comparingInt(ValueLog.Reservation::segment).thenComparingLong(ValueLog.Reservation::position);

    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Nothing before it is overwritten in place any more without {@link FlushedOverwrites}. */
    private volatile LogPosition frozen;
    /** Everything before it is on the disk: a sync that began after it was written returned. */
    private volatile LogPosition synced = LogPosition.START;
    private volatile @Nullable FlushedOverwrites flushed;
    private final ConcurrentSkipListSet<ValueLog.Reservation> unfinished = new ConcurrentSkipListSet<>(IN_LOG_ORDER);

    /** At open everything already in the log is frozen: only this open's appends may be overwritten. */
    OverwriteFence(LogPosition end) {
        this.frozen = end;
    }

    /** Held by a write from choosing the locations it overwrites until their bytes are written. */
    Lock permit() {
        return lock.readLock();
    }

    /** What a freeze ended: the point before which appends are written, and the window of overwrites. */
    record Frozen(LogPosition written, long window) {
    }

    /** How {@link #mayOverwrite} may answer for flushed bytes. */
    enum Marking {
        /** Whether they could be: nothing recorded (a write probing whether any run is long enough). */
        ASK,
        /** Records their range, syncing, when this window has not yet: a write on a store thread. */
        RECORD,
        /** Only if this window recorded their range already: a write that must never wait. */
        RECORDED
    }

    /** From now on flushed bytes may be overwritten in place, their ranges recorded in {@code record}. */
    void useFlushedOverwrites(FlushedOverwrites record) {
        this.flushed = record;
    }

    /**
     * Whether the bytes {@code [start, end)} of {@code segment} may be overwritten in place: they
     * were appended since the last freeze, or they are durable and their range is recorded (see
     * {@link Marking}). Under the {@link #permit}.
     */
    boolean mayOverwrite(int segment, long start, long end, Marking marking) {
        if (!frozen.covers(segment, start)) {
            return true; // positions rise along a run: all of it is unfrozen
        }
        FlushedOverwrites record = flushed;
        LogPosition durable = synced;
        if (record == null || !durable.covers(segment, end - 1)) {
            return false;
        }
        return marking == Marking.ASK || record.mark(segment, start, end, durable, marking == Marking.RECORD);
    }

    /** After the sync that followed {@code frozen} returned: its appends and its window's overwrites are durable. */
    synchronized void synced(Frozen done) {
        durableBefore(done.written());
        FlushedOverwrites record = flushed;
        if (record != null) {
            record.covered(done.window());
        }
    }

    void reserved(ValueLog.Reservation reservation) {
        unfinished.add(reservation);
    }

    /** After the reservation's segment was marked for the next sync. */
    void finished(ValueLog.Reservation reservation) {
        unfinished.remove(reservation);
    }

    /**
     * Freezes everything before {@code end} (the log's end now, read under the log's monitor,
     * where reservations start), waiting for overwrites in flight. Returns the point before which
     * every appended byte was written by now: {@code end}, or the start of the oldest reservation
     * still being written, and the window of overwrites of flushed bytes it ended. A sync of the
     * log that starts after this returns makes all of it durable ({@link #synced}).
     */
    Frozen freeze(Supplier<LogPosition> end) {
        lock.writeLock().lock();
        try {
            LogPosition now = end.get();
            if (now.compareTo(frozen) > 0) {
                frozen = now;
            }
            FlushedOverwrites record = flushed;
            long window = record == null ? 0 : record.closeWindow();
            return new Frozen(writtenBefore(now), window);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /**
     * The point before which every appended byte is written: {@code end} (the log's end, read
     * under the log's monitor, where reservations start), or the start of the oldest reservation
     * still being written. A sync of the log that starts after this returns makes all of it durable.
     */
    LogPosition writtenBefore(LogPosition end) {
        Iterator<ValueLog.Reservation> oldest = unfinished.iterator(); // may finish meanwhile
        if (!oldest.hasNext()) {
            return end;
        }
        ValueLog.Reservation first = oldest.next();
        LogPosition written = new LogPosition(first.segment(), first.position());
        return written.compareTo(end) < 0 ? written : end;
    }

    /**
     * After a sync of the log that began after {@link #writtenBefore} returned {@code written}:
     * everything before it is on the disk. Frozen bytes there may be overwritten in place once
     * recorded, whether or not a freeze came before the sync: what the disk holds of them is a
     * write of theirs, as after a sync that followed a freeze.
     */
    synchronized void durableBefore(LogPosition written) {
        if (written.compareTo(synced) > 0) {
            synced = written;
        }
    }

    /** Freezes everything before {@code through}: a relocated copy, made durable, that must stay as it is. */
    void freezeThrough(LogPosition through) {
        lock.writeLock().lock();
        try {
            if (through.compareTo(frozen) > 0) {
                frozen = through;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }
}

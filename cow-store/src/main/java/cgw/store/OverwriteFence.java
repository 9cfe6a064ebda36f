package cgw.store;

import java.util.Comparator;
import java.util.Iterator;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;

/**
 * Which bytes of the value log may still be overwritten in place, and through where appended
 * bytes are all written. A location is overwritten in place only while no flush has covered it:
 * page and CRC slot of an overwrite reach the disk in any order, so after a power cut an
 * overwritten location may match neither CRC, which is harmless only where every pointer to it is
 * unflushed too, in RocksDB's WAL, for {@link ReplayCheck} to judge (docs/store.md, "Power cuts").
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
    /** Nothing before it is overwritten in place any more. */
    private volatile LogPosition frozen;
    private final ConcurrentSkipListSet<ValueLog.Reservation> unfinished = new ConcurrentSkipListSet<>(IN_LOG_ORDER);

    /** At open everything already in the log is frozen: only this open's appends may be overwritten. */
    OverwriteFence(LogPosition end) {
        this.frozen = end;
    }

    /** Held by a write from choosing the locations it overwrites until their bytes are written. */
    Lock permit() {
        return lock.readLock();
    }

    /** Whether the bytes at {@code position} of {@code segment} may be overwritten in place; under the {@link #permit}. */
    boolean mayOverwrite(int segment, long position) {
        return !frozen.covers(segment, position);
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
     * still being written. A sync of the log that starts after this returns makes all of it
     * durable, never to change again.
     */
    LogPosition freeze(Supplier<LogPosition> end) {
        lock.writeLock().lock();
        try {
            LogPosition now = end.get();
            if (now.compareTo(frozen) > 0) {
                frozen = now;
            }
            Iterator<ValueLog.Reservation> oldest = unfinished.iterator(); // may finish meanwhile
            if (!oldest.hasNext()) {
                return now;
            }
            ValueLog.Reservation first = oldest.next();
            LogPosition written = new LogPosition(first.segment(), first.position());
            return written.compareTo(now) < 0 ? written : now;
        } finally {
            lock.writeLock().unlock();
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

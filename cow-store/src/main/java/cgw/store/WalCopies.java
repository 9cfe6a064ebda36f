package cgw.store;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * Copies of small appends in the WriteBatch that points to them ({@code putLogData}: in the WAL,
 * never in a memtable), so that a flush after them syncs only the WAL: one device round trip
 * instead of two side by side (docs/store.md, "Durability"). After a power cut that lost the log's
 * unsynced pages, {@link ReplayCheck} writes a replayed batch's bytes back from its copy.
 *
 * <p>A write is copied only when that can spare a sync: nothing written to the log since its last
 * sync lacks a copy (every other write, an overwrite in place, a partial block of a zero, is
 * <em>uncovered</em> and makes the next flush sync the log anyway; a relocation synced its copies
 * itself and is not), the write is at most
 * {@link #MAX_WRITE_BYTES} and the copies since that sync at most {@link #BUDGET_BYTES}: past that a
 * sync costs less than writing the bytes twice.
 *
 * <p>Threads: any. A write counts as uncovered only once its bytes are written and its segment is
 * marked for the next sync, so a sync that read the count before it started covers every write
 * counted by then.
 *
 * <pre>
 *   copy: "CGWC" | segment u32 | position u64 | the reservation's bytes
 * </pre>
 */
final class WalCopies {
    static final int MAX_WRITE_BYTES = 64 << 10;
    static final long BUDGET_BYTES = 256 << 10;
    static final int HEADER_BYTES = 4 + 4 + 8;
    private static final int MAGIC = 0x43475743; // "CGWC"

    private final AtomicLong uncovered = new AtomicLong();
    private volatile long uncoveredAtSync;
    private final AtomicLong copiedSinceSync = new AtomicLong();

    /** A write without a copy is written and its segment marked for the next sync. */
    void uncoveredWrite() {
        uncovered.incrementAndGet();
    }

    /** Before a sync of the log starts: what it will cover, for {@link #synced}. */
    long beforeSync() {
        return uncovered.get();
    }

    /** After a sync of the log that began once {@link #beforeSync} returned {@code covered}. */
    void synced(long covered) {
        uncoveredAtSync = covered;
        copiedSinceSync.set(0);
    }

    /** Whether every byte written to the log since its last sync has a copy in the WAL. */
    boolean onlyCopiesUnsynced() {
        return uncovered.get() == uncoveredAtSync;
    }

    /** Whether an append of {@code bytes} should carry a copy; a yes counts against the budget. */
    boolean mayCopy(int bytes) {
        return bytes <= MAX_WRITE_BYTES && onlyCopiesUnsynced() && copiedSinceSync.addAndGet(bytes) <= BUDGET_BYTES;
    }

    /** A copy of {@code length} bytes at {@code position} of {@code segment}, its bytes to be filled from {@link #HEADER_BYTES}. */
    static byte[] blob(int segment, long position, int length) {
        byte[] blob = new byte[HEADER_BYTES + length];
        ByteBuffer.wrap(blob).putInt(MAGIC).putInt(segment).putLong(position);
        return blob;
    }

    /** Bytes of the log as a batch copied them. */
    record Copy(int segment, long position, ByteBuffer bytes) {
        /** The copy of {@code length} bytes at {@code at} of {@code segmentNumber}, or null if it holds none. */
        @Nullable
        ByteBuffer slice(int segmentNumber, long at, int length) {
            if (segmentNumber != segment || at < position || at + length > position + bytes.remaining()) {
                return null;
            }
            return bytes.slice(bytes.position() + (int) (at - position), length);
        }
    }

    /** The copy a log data blob holds, or null when the blob is not one (another writer's, or too short). */
    static @Nullable Copy read(byte[] blob) {
        if (blob.length < HEADER_BYTES) {
            return null;
        }
        ByteBuffer in = ByteBuffer.wrap(blob);
        if (in.getInt() != MAGIC) {
            return null;
        }
        int segment = in.getInt();
        long position = in.getLong();
        return new Copy(segment, position, in.slice());
    }
}

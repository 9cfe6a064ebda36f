package cgw.store;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.rocksdb.RocksIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reclaims the space of dead block data in the {@link ValueLog}. Data dies when a write replaces
 * its version in the same epoch without overwriting it in place (zeros, blocks the cleaner is
 * moving), when the collector deletes a released version, or with its volume; only the pointers in RocksDB know which bytes are live, so a round scans them:
 *
 * <ol>
 *   <li>note the settled segments (no pointer to them can appear any more);
 *   <li>scan every pointer and add up the live bytes of each settled segment;
 *   <li>segments with nothing live are deleted; those less than half live are <em>victims</em>:
 *       a second scan copies every block still pointing into a victim to the active segment and
 *       swaps its pointer, under the block's stripe lock and only if the pointer did not change
 *       meanwhile (a write that replaced it wins);
 *   <li>the copies and new pointers are made durable (value log, then WAL), and only then are the
 *       victims removed, under the value log's removal lock, so no reader ever follows a pointer
 *       into a deleted file and a crash at any point leaves every pointer valid.
 * </ol>
 *
 * Before the second scan the victims are marked so that no write overwrites bytes in them in
 * place, and the round waits until no overwrite that checked before the mark is still running:
 * from then on their bytes only change by relocation. Relocation keeps each pointer's form and
 * CRCs (the bytes are the same). A round runs when the log grew by a quarter since the last one
 * (and at least {@link #MIN_GROWTH_SEGMENTS} segments), or when the collector or a volume
 * deletion made garbage; scans are paced like the collector.
 * Space amplification is therefore bounded by about 2x the live data plus a quarter.
 *
 * <p>Threads: one round at a time ({@link #lock}); any thread may call {@link #clean}.
 */
final class LogCleaner {
    private static final Logger log = LoggerFactory.getLogger(LogCleaner.class);
    /** Segments with less than this share of live bytes are cleaned. */
    static final double LIVE_SHARE_TO_CLEAN = 0.5;
    static final int MIN_GROWTH_SEGMENTS = 4;
    private static final int RELOCATION_BATCH_BLOCKS = 256;

    private final BlockStore store;
    private final Rocks rocks;
    private final ValueLog valueLog;
    private final int blockSize;
    private final int blockShift;
    private final ReentrantLock lock = new ReentrantLock();
    private long appendedAtLastRound; // guarded by lock
    private volatile boolean garbageHint = true; // a restart may leave garbage behind

    /** What one round did. */
    record Stats(int segmentsScanned, int segmentsRemoved, long blocksRelocated, long bytesFreed) {
        static final Stats NOTHING = new Stats(0, 0, 0, 0);
    }

    LogCleaner(BlockStore store, Rocks rocks, ValueLog valueLog, int blockSize) {
        this.store = store;
        this.rocks = rocks;
        this.valueLog = valueLog;
        this.blockSize = blockSize;
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
    }

    /** Something made garbage: the next round runs even if the log did not grow. */
    void hintGarbage() {
        garbageHint = true;
    }

    /**
     * Runs a round if one is due, or always when {@code force}d; a forced round also seals the
     * active segment first and cleans every segment with any dead bytes, so that afterwards the
     * log holds live data only (when no writes ran meanwhile).
     */
    Stats clean(long entriesPerSecond, boolean force) {
        lock.lock();
        try {
            long appended = valueLog.appendedBytes();
            long growth = appended - appendedAtLastRound;
            boolean due = garbageHint || growth >= Math.max(MIN_GROWTH_SEGMENTS * valueLog.segmentBytes(), valueLog.totalBytes() / 4);
            if (!force && !due) {
                return Stats.NOTHING;
            }
            garbageHint = false;
            appendedAtLastRound = appended;
            if (force) {
                valueLog.sealActive();
            }
            return round(new BlockStore.Pacer(entriesPerSecond), force ? 1.0 : LIVE_SHARE_TO_CLEAN);
        } finally {
            lock.unlock();
        }
    }

    private Stats round(BlockStore.Pacer pacer, double liveShare) {
        Map<Integer, Long> settled = valueLog.settledSegments(); // before the scan: see the class comment
        if (settled.isEmpty()) {
            return Stats.NOTHING;
        }
        Map<Integer, Long> live = liveBytes(settled.keySet(), pacer);
        List<Integer> empty = new ArrayList<>();
        Set<Integer> victims = new HashSet<>();
        long freed = 0;
        for (Map.Entry<Integer, Long> segment : settled.entrySet()) {
            long liveBytes = live.getOrDefault(segment.getKey(), 0L);
            if (liveBytes == 0) {
                empty.add(segment.getKey());
                freed += segment.getValue();
            } else if (liveBytes < liveShare * segment.getValue()) {
                victims.add(segment.getKey());
                freed += segment.getValue() - liveBytes;
            }
        }
        if (empty.isEmpty() && victims.isEmpty()) {
            return new Stats(settled.size(), 0, 0, 0);
        }
        long relocated;
        List<Integer> removed = new ArrayList<>(empty);
        removed.addAll(victims);
        valueLog.markCleaning(victims);
        try {
            store.awaitOverwrites(); // none in flight into a victim from before the mark
            relocated = victims.isEmpty() ? 0 : relocate(victims, pacer);
            // copies and swapped pointers durable before anything they replace disappears
            store.syncAll();
            valueLog.remove(removed);
        } finally {
            valueLog.unmarkCleaning(victims);
        }
        log.info("value log cleaner: removed {} segments ({} empty), relocated {} blocks, freed {} MiB",
                removed.size(), empty.size(), relocated, freed >> 20);
        return new Stats(settled.size(), removed.size(), relocated, freed);
    }

    /** Live bytes of each of the given segments, from a scan of every pointer. */
    Map<Integer, Long> liveBytes(Set<Integer> segments, BlockStore.Pacer pacer) {
        Map<Integer, Long> live = new HashMap<>();
        ByteBuffer value = ByteBuffer.allocate(ValueLog.Pointer.OVERWRITTEN_LENGTH);
        try (RocksIterator it = rocks.db.newIterator(rocks.blocks, rocks.scanOptions)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                if (ValueLog.Pointer.isPointer(it.value(value.array()))) {
                    int segment = ValueLog.Pointer.segment(value, 0);
                    if (segments.contains(segment)) {
                        live.merge(segment, (long) blockSize, Long::sum);
                    }
                }
                pacer.pace(1);
            }
            BlockStore.checkStatus(it);
        }
        return live;
    }

    /** Moves every block still pointing into a victim to the active segment; returns how many moved. */
    private long relocate(Set<Integer> victims, BlockStore.Pacer pacer) {
        Batch batch = new Batch();
        long relocated = 0;
        try (RocksIterator it = rocks.db.newIterator(rocks.blocks, rocks.scanOptions)) {
            ByteBuffer value = ByteBuffer.allocate(ValueLog.Pointer.OVERWRITTEN_LENGTH);
            for (it.seekToFirst(); it.isValid(); it.next()) {
                int length = it.value(value.array());
                if (ValueLog.Pointer.isPointer(length) && victims.contains(ValueLog.Pointer.segment(value, 0))) {
                    batch.add(it.key(), java.util.Arrays.copyOf(value.array(), length));
                    if (batch.count == RELOCATION_BATCH_BLOCKS) {
                        relocated += move(batch);
                    }
                }
                pacer.pace(1);
            }
            BlockStore.checkStatus(it);
        }
        if (batch.count > 0) {
            relocated += move(batch);
        }
        return relocated;
    }

    /**
     * Copies a batch of blocks to the active segment and swaps their pointers, each only if no
     * write replaced it meanwhile (a write that replaced it wins).
     */
    private long move(Batch batch) {
        int n = batch.count;
        ByteBuffer data = batch.data;
        for (int i = 0; i < n; i++) {
            ByteBuffer pointer = ByteBuffer.wrap(batch.pointers[i]);
            valueLog.read(ValueLog.Pointer.segment(pointer, 0), ValueLog.Pointer.position(pointer, 0),
                    data.slice(i << blockShift, blockSize));
        }
        long moved = 0;
        ValueLog.Reservation reservation = valueLog.reserve(n << blockShift);
        try {
            reservation.write(0, data.slice(0, n << blockShift));
            for (int i = 0; i < n; i++) {
                // same CRCs: after a crash during an overwrite the bytes may match either
                long position = reservation.position() + ((long) i << blockShift);
                byte[] replacement = ValueLog.Pointer.inTable(batch.pointers[i].length)
                        ? fromTable(batch.pointers[i], reservation.segment(), position)
                        : ValueLog.Pointer.moved(batch.pointers[i], reservation.segment(), position);
                if (store.replaceValue(batch.keys[i], batch.pointers[i], replacement)) {
                    moved++;
                }
            }
        } finally {
            reservation.finish();
        }
        batch.count = 0;
        return moved;
    }

    /**
     * The long form of a pointer that keeps its CRCs in its segment's table, leading to a copy of
     * its bytes: the new segment has no table slot for it. Overwrites stay out of segments being
     * cleaned, so the slot is what it was when the bytes were copied.
     */
    private byte[] fromTable(byte[] pointer, int segment, long position) {
        ByteBuffer old = ByteBuffer.wrap(pointer);
        ByteBuffer slot = ByteBuffer.allocate(ValueLog.TABLE_SLOT_BYTES);
        valueLog.readTable(ValueLog.Pointer.segment(old, 0), ValueLog.Pointer.position(old, 0) >>> blockShift, slot);
        ByteBuffer moved = ByteBuffer.allocate(ValueLog.Pointer.OVERWRITTEN_LENGTH);
        ValueLog.Pointer.encodeOverwritten(moved, segment, position, slot.getInt(0), slot.getInt(4), slot.getInt(8));
        return moved.array();
    }

    /** Blocks on their way from a victim to the active segment. */
    private final class Batch {
        final byte[][] keys = new byte[RELOCATION_BATCH_BLOCKS][];
        final byte[][] pointers = new byte[RELOCATION_BATCH_BLOCKS][];
        final ByteBuffer data = ByteBuffer.allocateDirect(RELOCATION_BATCH_BLOCKS * blockSize);
        int count;

        void add(byte[] key, byte[] pointer) {
            keys[count] = key;
            pointers[count] = pointer;
            count++;
        }
    }
}

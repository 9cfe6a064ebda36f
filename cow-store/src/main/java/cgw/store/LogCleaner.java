package cgw.store;

import cgw.host.Pacer;
import cgw.store.key.BlockPointer;
import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
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
 *   <li>note the settled segments (no pointer to them can appear any more) that lie before the
 *       value log's {@link DurableMark} (made durable first: a flush);
 *   <li>scan every pointer and add up the live bytes of each settled segment;
 *   <li>segments with nothing live are deleted; those less than half live are <em>victims</em>:
 *       a second scan copies every block still pointing into a victim to the active segment,
 *       syncs the copies, and swaps their pointers, under the blocks' stripe locks and only where
 *       a pointer did not change meanwhile (a write that replaced it wins; {@link LogMover});
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

    private final Rocks rocks;
    private final StripeLocks stripes;
    private final WalSync walSync;
    private final ValueLog valueLog;
    private final int blockSize;
    private final LogMover mover;
    private final ReentrantLock lock = new ReentrantLock();
    private long appendedAtLastRound; // guarded by lock
    private volatile boolean garbageHint = true; // a restart may leave garbage behind

    /** What one round did. */
    record Stats(int segmentsScanned, int segmentsRemoved, long blocksRelocated, long bytesFreed) {
        static final Stats NOTHING = new Stats(0, 0, 0, 0);
    }

    LogCleaner(Rocks rocks, ValueLog valueLog, StripeLocks stripes, WalSync walSync, Relocation relocation,
            int blockSize) {
        this.rocks = rocks;
        this.stripes = stripes;
        this.walSync = walSync;
        this.valueLog = valueLog;
        this.blockSize = blockSize;
        this.mover = new LogMover(relocation, valueLog, blockSize);
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
            boolean due = garbageHint
                    || growth >= Math.max(MIN_GROWTH_SEGMENTS * valueLog.segmentBytes(), valueLog.totalBytes() / 4);
            if (!force && !due) {
                return Stats.NOTHING;
            }
            garbageHint = false;
            appendedAtLastRound = appended;
            if (force) {
                valueLog.sealActive();
            }
            return round(new Pacer(entriesPerSecond), force ? 1.0 : LIVE_SHARE_TO_CLEAN);
        } finally {
            lock.unlock();
        }
    }

    private Stats round(Pacer pacer, double liveShare) {
        // only segments all durable for good, and known to be after a power cut: a pointer the
        // WAL replays past the mark is read (ReplayCheck), and must not lead into a removed one
        LogPosition durable = walSync.syncDurable();
        Map<Integer, Long> settled = valueLog.settledSegments(); // before the scan: see the class comment
        settled.keySet().removeIf(number -> number >= durable.segment());
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
            stripes.awaitHolders(); // none in flight into a victim from before the mark
            relocated = victims.isEmpty() ? 0 : relocate(victims, pacer);
            // copies and swapped pointers durable before anything they replace disappears
            walSync.sync();
            valueLog.remove(removed);
        } finally {
            valueLog.unmarkCleaning(victims);
        }
        log.info("value log cleaner: removed {} segments ({} empty), relocated {} blocks, freed {} MiB",
                removed.size(), empty.size(), relocated, freed >> 20);
        return new Stats(settled.size(), removed.size(), relocated, freed);
    }

    /** Live bytes of each of the given segments, from a scan of every pointer. */
    Map<Integer, Long> liveBytes(Set<Integer> segments, Pacer pacer) {
        Map<Integer, Long> live = new HashMap<>();
        scanPointers(pacer, (key, slot, pointer) -> {
            int segment = BlockPointer.segment(pointer, 0);
            if (segments.contains(segment)) {
                live.merge(segment, (long) blockSize, Long::sum);
            }
        });
        return live;
    }

    /** Moves every block still pointing into a victim to the active segment; returns how many moved. */
    private long relocate(Set<Integer> victims, Pacer pacer) {
        long[] relocated = new long[1];
        try {
            scanPointers(pacer, (key, slot, pointer) -> {
                if (victims.contains(BlockPointer.segment(pointer, 0))) {
                    byte[] copy = new byte[pointer.remaining()];
                    pointer.get(0, copy);
                    mover.add(key.clone(), slot, copy);
                    if (mover.isFull()) {
                        relocated[0] += mover.move();
                    }
                }
            });
        } catch (RuntimeException e) {
            mover.clear();
            throw e;
        }
        return relocated[0] + mover.move();
    }

    private interface PointerVisitor {
        /** A pointer (from index 0) in slot {@code slot} of the record at {@code key}; both valid for the call only. */
        void visit(byte[] key, int slot, ByteBuffer pointer);
    }

    /** Visits every block pointer of every region record, paced per record. */
    private void scanPointers(Pacer pacer, PointerVisitor visitor) {
        RegionRecord record = new RegionRecord(Integer.numberOfTrailingZeros(blockSize));
        byte[] key = new byte[RegionKey.LENGTH];
        ByteBuffer keyBuffer = ByteBuffer.wrap(key);
        ByteBuffer value = ByteBuffer.allocate(RegionRecord.MAX_LENGTH);
        try (RocksIterator it = rocks.db.newIterator(rocks.blocks, rocks.scanOptions)) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                it.key(key);
                RegionRecords.decode(record, value, it.value(value.array()), false, RegionKey.volumeId(keyBuffer),
                        RegionKey.region(keyBuffer), RegionKey.epoch(keyBuffer));
                for (int slot = 0; slot < RegionRecord.SLOTS; slot++) {
                    if (record.has(slot) && BlockPointer.isPointer(record.length(slot))) {
                        visitor.visit(key, slot, record.value(slot));
                    }
                }
                pacer.paceKeepingInterrupt(Integer.bitCount(record.mask()));
            }
            Rocks.checkStatus(it);
        }
    }
}

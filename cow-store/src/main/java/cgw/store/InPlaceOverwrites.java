package cgw.store;

import cgw.store.key.BlockPointer;
import cgw.store.key.CrcSlot;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;
import org.rocksdb.RocksDBException;

/**
 * Which blocks of a write overwrite their bytes in the value log instead of appending, and the
 * steps of doing so crash-safely. Only long runs of blocks already in the head epoch, back to
 * back in the volume and in one segment not being cleaned, appended since the last flush or
 * durable and recorded as overwritten ({@link OverwriteFence}), are overwritten in place: their CRC table slots
 * (new CRC, the CRC of the bytes they replace, this session) are written before the bytes, so
 * that until the bytes are written, and after a crash in between, the location matches one of
 * the two CRCs (docs/store.md, "Overwrites in place").
 *
 * <p>Threads: the writing thread, under the batch's stripe locks; state is in its
 * {@link WriteContext}. Never overwrites a block of a sealed epoch.
 */
final class InPlaceOverwrites {
    /** Shortest run of blocks overwritten in place (see {@link #find}). */
    static final int MIN_RUN_BYTES = 64 << 10;
    /** A target's segment when its version is in a segment being cleaned (-1: none in the log). */
    private static final int CLEANING = -2;
    private static final WriteOutcome[] OUTCOMES = WriteOutcome.values();

    private final Rocks rocks;
    private final ValueLog valueLog;
    private final PointerReads pointers;
    private final PointerCache pointerCache;
    private final int blockSize;
    private final int blockShift;
    /** Names this open in the table slots it writes; never 0. */
    private final int session;
    private final ThreadLocal<PointerCache.Hit> cacheHits = ThreadLocal.withInitial(PointerCache.Hit::new);
    private final LongAdder[] written = new LongAdder[OUTCOMES.length];

    InPlaceOverwrites(Rocks rocks, PointerReads pointers, PointerCache pointerCache, BlockGeometry geometry,
            int session) {
        this.rocks = rocks;
        this.valueLog = pointers.valueLog();
        this.pointers = pointers;
        this.pointerCache = pointerCache;
        this.blockSize = geometry.blockSize;
        this.blockShift = geometry.blockShift;
        this.session = session;
        for (int i = 0; i < written.length; i++) {
            written[i] = new LongAdder();
        }
    }

    /** Whole data blocks written since the store was opened with {@code outcome}. */
    long written(WriteOutcome outcome) {
        return written[outcome.ordinal()].sum();
    }

    /** Counts {@code blocks} written with {@code outcome}. */
    void count(WriteOutcome outcome, int blocks) {
        written[outcome.ordinal()].add(blocks);
    }

    /** Counts the outcomes the last {@link #assignSlots} on {@code context} chose, once the write is decided. */
    void countChosen(WriteContext context) {
        for (int i = 0; i < OUTCOMES.length; i++) {
            if (context.outcomes[i] > 0) {
                written[i].add(context.outcomes[i]);
            }
        }
    }

    /** The shortest run overwritten in place, in blocks. */
    int minRunBlocks() {
        return Math.max(1, MIN_RUN_BYTES >> blockShift);
    }

    /**
     * Finds which of the context's {@code data} blocks are overwritten in place: those whose
     * version at {@code epoch} exists and points into a segment not being cleaned, in runs of at
     * least {@link #MIN_RUN_BYTES} that are back to back in the volume and in the log. Shorter
     * runs are appended: small random overwrites in place would scatter writes over the log's
     * pages (and cost the page cache more than appends), while a sequential rewrite of data
     * scattered by them lays it out contiguously again. Where the batch's blocks are comes from
     * the runs a previous write of them left ({@link #knownRuns}), else from the pointer cache
     * when that shows no run long enough ({@link #cachedTargets}), else from RocksDB. Sets each
     * block's {@code slot} (-1: overwritten; else its index among the appended blocks) and, for
     * the overwritten, where its bytes are and their current CRC. Returns how many are overwritten.
     */
    int find(WriteContext context, Volume volume, long epoch, int data, boolean mayOverwrite) {
        int minRun = minRunBlocks();
        if (!mayOverwrite || data < minRun) {
            for (int i = 0; i < data; i++) {
                context.slot[i] = i;
            }
            count(data < minRun ? WriteOutcome.APPENDED_SHORT_RUN : WriteOutcome.APPENDED_ALWAYS, data);
            return 0;
        }
        int overwrites;
        if (knownRuns(context, volume, epoch, data)) {
            overwrites = assignSlots(context, data, minRun, OverwriteFence.Marking.RECORD);
        } else if (cachedTargets(context, volume, epoch, data)
                && assignSlots(context, data, minRun, OverwriteFence.Marking.ASK) == 0) {
            // the pointer cache showed cheaply that no run is long enough: all are appended, with
            // no RocksDB lookup (after random writes a sequential rewrite appends nearly all)
            countChosen(context);
            return 0;
        } else {
            // the table flags and sessions an overwrite needs come from RocksDB
            lookUpTargets(context, volume, epoch, data);
            overwrites = assignSlots(context, data, minRun, OverwriteFence.Marking.RECORD);
        }
        countChosen(context);
        if (overwrites > 0) {
            currentCrcs(context, data);
        }
        return overwrites;
    }

    /**
     * Sets each of the batch's data blocks' {@code slot} from its target: -1 (overwritten in
     * place) for those in runs of at least {@code minRun} blocks back to back in the volume and
     * in one segment whose bytes may be overwritten ({@link ValueLog#mayOverwrite}, asked with
     * {@code marking}), else its index among the appended; tallies why in {@code context.outcomes}.
     * Returns how many are overwritten. Under the value log's overwrite permit.
     */
    int assignSlots(WriteContext context, int data, int minRun, OverwriteFence.Marking marking) {
        int overwrites = 0;
        int appended = 0;
        int[] outcomes = context.outcomes;
        Arrays.fill(outcomes, 0);
        for (int i = 0; i < data;) {
            int end = i + 1;
            int segment = context.targetSegment[i];
            if (segment >= 0) {
                while (end < data && context.targetSegment[end] == segment
                        && context.blocks[end] == context.blocks[end - 1] + 1
                        && context.targetPosition[end] == context.targetPosition[end - 1] + blockSize) {
                    end++;
                }
            }
            // positions rise along a run: where its first block may be overwritten, all may
            boolean overwrite = segment >= 0 && end - i >= minRun && valueLog.mayOverwrite(segment,
                    context.targetPosition[i], context.targetPosition[end - 1] + blockSize, marking);
            for (int k = i; k < end; k++) {
                context.slot[k] = overwrite ? -1 : appended++;
            }
            overwrites += overwrite ? end - i : 0;
            outcomes[outcome(overwrite, segment, end - i, minRun).ordinal()] += end - i;
            i = end;
        }
        return overwrites;
    }

    private static WriteOutcome outcome(boolean overwrite, int segment, int run, int minRun) {
        if (overwrite) {
            return WriteOutcome.IN_PLACE;
        }
        if (segment < 0) {
            return segment == CLEANING ? WriteOutcome.APPENDED_CLEANING : WriteOutcome.APPENDED_NEW;
        }
        return run < minRun ? WriteOutcome.APPENDED_SHORT_RUN : WriteOutcome.APPENDED_FENCED;
    }

    /**
     * Sets the targets of the batch's data blocks from the {@link PointerCache} ({@link #CLEANING}
     * for one in a segment being cleaned), without their table flags, CRCs and sessions: enough to tell that no
     * run is long enough to overwrite, never to overwrite. A slot holds the newest version at or
     * below the head, which may be a sealed epoch's that {@link #lookUpTargets} would not count
     * (-1 there); such a block can only lengthen a run, so when no run is long enough here, none
     * is in RocksDB's view either, and appending all is what the lookups would have decided.
     * False when a block is not cached. The caller holds the blocks' stripe locks, so no entry
     * changes meanwhile.
     */
    private boolean cachedTargets(WriteContext context, Volume volume, long epoch, int data) {
        PointerCache.Hit hit = cacheHits.get();
        for (int i = 0; i < data; i++) {
            if (!pointerCache.get(volume.id, context.blocks[i], epoch, hit)) {
                return false;
            }
            context.targetSegment[i] = valueLog.isCleaning(hit.segment) ? CLEANING : hit.segment;
            context.targetPosition[i] = hit.position;
        }
        return true;
    }

    /**
     * Sets the targets of a batch of whole {@link PointerCache.Run} groups from the runs known
     * for them, without a RocksDB lookup; false, with nothing set, when the batch is not such
     * groups back to back or a group's run is not known at {@code epoch} or lies in a segment
     * being cleaned.
     */
    boolean knownRuns(WriteContext context, Volume volume, long epoch, int data) {
        int group = PointerCache.RUN_BLOCKS;
        long first = context.blocks[0];
        if (first % group != 0 || data % group != 0 || context.blocks[data - 1] != first + data - 1) {
            return false;
        }
        for (int i = 0; i < data; i += group) {
            PointerCache.Run run = pointerCache.run(volume.id, (first + i) / group, epoch);
            if (run == null || valueLog.isCleaning(run.segment())) {
                return false;
            }
            context.runs[i / group] = run;
        }
        for (int i = 0; i < data; i++) {
            PointerCache.Run run = context.runs[i / group];
            context.targetSegment[i] = run.segment();
            context.targetPosition[i] = run.position() + ((long) (i % group) << blockShift);
            context.inTable[i] = true;
        }
        return true;
    }

    /**
     * After the batch's bytes were overwritten in place: remembers the run of each whole group
     * of its blocks that it overwrote in place back to back, for the next write of them
     * ({@link #knownRuns}). Their pointers all lead to the CRC table now. Under their stripe
     * locks, after the batch's blocks were cleared from the pointer cache.
     */
    void rememberRuns(WriteContext context, Volume volume, long epoch, int data, long chunk, long chunkLast) {
        int group = PointerCache.RUN_BLOCKS;
        if (data != chunkLast - chunk + 1) {
            return; // zero blocks among them
        }
        for (long g = (chunk + group - 1) / group; (g + 1) * group - 1 <= chunkLast; g++) {
            int from = (int) (g * group - chunk);
            if (context.slot[from] >= 0 || runEnd(context, data, from) < from + group) {
                continue;
            }
            pointerCache.putRun(new PointerCache.Run(volume.id, g, epoch, context.targetSegment[from],
                    context.targetPosition[from]));
        }
    }

    /**
     * Looks up the version at {@code epoch} of each of the batch's data blocks and sets the
     * targets of those in the value log ({@code targetSegment} {@link #CLEANING} for those in a
     * segment being cleaned, -1 for the others).
     */
    private void lookUpTargets(WriteContext context, Volume volume, long epoch, int data) {
        RegionRecord record = context.found;
        long region = -1;
        for (int i = 0; i < data; i++) {
            long block = context.blocks[i];
            if (RegionRecord.region(block) != region) {
                region = RegionRecord.region(block);
                recordAt(context, volume, region, epoch);
            }
            context.targetSegment[i] = -1;
            int slot = RegionRecord.slot(block);
            if (!record.has(slot)) {
                continue;
            }
            ByteBuffer value = record.value(slot);
            int size = value.remaining();
            if (BlockPointer.isPointer(size) && valueLog.isCleaning(BlockPointer.segment(value, 0))) {
                context.targetSegment[i] = CLEANING;
            } else if (BlockPointer.isPointer(size)) {
                context.targetSegment[i] = BlockPointer.segment(value, 0);
                context.targetPosition[i] = BlockPointer.position(value, 0);
                boolean inTable = BlockPointer.inTable(size);
                context.inTable[i] = inTable;
                if (!inTable) {
                    context.crcNow[i] = BlockPointer.crc(value, 0);
                    context.crcBefore[i] = BlockPointer.previousCrc(value, 0, size);
                    context.writtenIn[i] = BlockPointer.session(value, 0, size);
                }
            }
        }
    }

    /** Reads the record {@code region} has in exactly {@code epoch} into {@code context.found} (empty when none). */
    private void recordAt(WriteContext context, Volume volume, long region, long epoch) {
        context.found.clear();
        try {
            RegionRecords.read(rocks, volume.id, region, epoch, context.foundKey, context.foundRecord, context.found,
                    true);
        } catch (RocksDBException e) {
            throw rocks.failure("reading region " + region + " of " + volume.name, e);
        }
    }

    /**
     * Sets {@code previousCrc}, the CRC of the bytes there now, of each block overwritten in place:
     * its pointer's CRC, or its CRC table slot's (one read per run), except for one an overwrite of
     * an earlier session left, whose bytes may still be the ones it replaced (a crash between
     * pointer and bytes): those are read once to find out. Under the blocks' stripe locks.
     */
    private void currentCrcs(WriteContext context, int data) {
        valueLog.readLock().lock();
        try {
            for (int i = 0; i < data;) {
                if (context.slot[i] >= 0) {
                    i++;
                    continue;
                }
                int end = runEnd(context, data, i);
                readTableSlots(context, i, end);
                for (int k = i; k < end; k++) {
                    int crc = context.crcNow[k];
                    int previous = context.crcBefore[k];
                    if (crc == previous || context.writtenIn[k] == session) {
                        context.previousCrc[k] = crc;
                    } else {
                        ByteBuffer bytes = context.scratch.clear();
                        valueLog.read(context.targetSegment[k], context.targetPosition[k], bytes);
                        context.previousCrc[k] = context.crc32c(bytes.flip()) == previous ? previous : crc;
                    }
                }
                i = end;
            }
        } finally {
            valueLog.readLock().unlock();
        }
    }

    /**
     * {@link #currentCrcs} for a batch of known runs (all overwritten, all in the table) when the
     * table slots are in the page cache and every block's CRCs can be trusted without reading its
     * bytes: false otherwise, with nothing waited for. Under the value log's read lock.
     */
    boolean currentCrcsNoWait(WriteContext context, int data) {
        ByteBuffer slots = context.tableSlots;
        for (int i = 0; i < data;) {
            int end = runEnd(context, data, i);
            slots.clear().limit((end - i) * CrcSlot.LENGTH);
            if (!valueLog.readTableNoWait(context.targetSegment[i], context.targetPosition[i] >>> blockShift, slots)) {
                return false;
            }
            for (int k = i; k < end; k++) {
                int crc = CrcSlot.crc(slots, k - i);
                if (crc != CrcSlot.previousCrc(slots, k - i) && CrcSlot.session(slots, k - i) != session) {
                    return false; // its bytes may be what it replaced: only reading them tells
                }
                context.previousCrc[k] = crc;
            }
            i = end;
        }
        return true;
    }

    /**
     * Reads the CRC table slots of the blocks of the run {@code [from, end)} whose CRCs are in
     * their segment's table ({@link PointerReads#readTableSpan}) into {@code crcNow},
     * {@code crcBefore} and {@code writtenIn}. Under the value log's read lock.
     */
    private void readTableSlots(WriteContext context, int from, int end) {
        ByteBuffer slots = context.tableSlots;
        int first = pointers.readTableSpan(context.targetSegment[from], context.targetPosition[from] >>> blockShift,
                context.inTable, from, end, slots);
        if (first < 0) {
            return;
        }
        for (int k = first; k < end; k++) {
            if (context.inTable[k]) {
                context.crcNow[k] = CrcSlot.crc(slots, k - first);
                context.crcBefore[k] = CrcSlot.previousCrc(slots, k - first);
                context.writtenIn[k] = CrcSlot.session(slots, k - first);
            }
        }
    }

    /**
     * Writes the CRC table slots of the blocks the batch overwrites in place (new CRC, the CRC of
     * the bytes they replace, this session), one call per run contiguous in a segment. Before the
     * batch's pointers and before the bytes: until the bytes are written, and after a crash in
     * between, the location holds what the previous CRC describes.
     */
    void writeTables(WriteContext context, int data) {
        writeTables(context, data, session);
    }

    private void writeTables(WriteContext context, int data, int writer) {
        ByteBuffer entries = context.tableEntries;
        int i = 0;
        while (i < data) {
            if (context.slot[i] >= 0) {
                i++;
                continue;
            }
            int end = runEnd(context, data, i);
            entries.clear();
            for (int k = i; k < end; k++) {
                CrcSlot.append(entries, context.newCrc[k], context.previousCrc[k], writer);
            }
            valueLog.writeTable(context.targetSegment[i], context.targetPosition[i] >>> blockShift, entries.flip());
            i = end;
        }
    }

    /**
     * After an overwrite's bytes or table slots failed to be written (old, new or torn now),
     * writes its table slots again without this session, so that a later overwrite reads what the
     * bytes really are instead of trusting that this session's overwrites finished. Best effort: a
     * failure is added to {@code failure}.
     */
    void forgetSession(WriteContext context, int data, StoreException failure) {
        try {
            writeTables(context, data, 0);
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    /** Overwrites the blocks found in place: runs contiguous in {@code src} and in one segment with one call each. */
    void overwrite(WriteContext context, ByteBuffer src, int data) {
        int i = 0;
        while (i < data) {
            if (context.slot[i] >= 0) {
                i++;
                continue;
            }
            int runStart = i;
            int segment = context.targetSegment[i];
            long position = context.targetPosition[i];
            int sourceIndex = context.sourceIndex[i];
            int end = runEnd(context, data, i);
            i++;
            if (sourceIndex >= 0) {
                while (i < end && context.sourceIndex[i] == sourceIndex + ((i - runStart) << blockShift)) {
                    i++;
                }
                valueLog.overwrite(segment, position, src.slice(sourceIndex, (i - runStart) << blockShift));
            } else {
                valueLog.overwrite(segment, position, context.values[runStart].duplicate());
            }
        }
    }

    /** The end (exclusive) of the run of blocks overwritten in place from {@code i}: back to back in one segment. */
    private int runEnd(WriteContext context, int data, int i) {
        int segment = context.targetSegment[i];
        long position = context.targetPosition[i];
        int end = i + 1;
        while (end < data && context.slot[end] < 0 && context.targetSegment[end] == segment
                && context.targetPosition[end] == position + ((long) (end - i) << blockShift)) {
            end++;
        }
        return end;
    }
}

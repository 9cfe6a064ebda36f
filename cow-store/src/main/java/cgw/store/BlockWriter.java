package cgw.store;

import cgw.store.key.BlockPointer;
import cgw.store.key.BlockValue;
import cgw.store.key.DirtyKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Lock;
import org.jspecify.annotations.Nullable;
import org.rocksdb.RocksDBException;

/**
 * Writes, write-zeroes and trims of a volume at an epoch. Per batch of up to
 * {@link BlockStore#MAX_BATCH_BLOCKS} blocks, under their stripe locks: data goes to the value log
 * (appended, or overwritten in place by {@link InPlaceOverwrites}), then the pointers and dirty
 * entries go to RocksDB in one batch; zeros become markers. The order is what a crash needs: a
 * block's bytes are there before its pointer.
 *
 * <p>Threads: any, each with its own {@link WriteContext}; callers hold the read side of the
 * volume's head lock. Never moves the caller's buffer positions.
 */
final class BlockWriter {
    private final Rocks rocks;
    private final ValueLog valueLog;
    private final BlockReader reader;
    private final InPlaceOverwrites overwrites;
    private final ExtentMap extents;
    private final PointerCache pointerCache;
    private final RecordCache records;
    private final StripeLocks stripes;
    private final BlockGeometry geometry;
    private final int blockSize;
    private final int blockShift;
    /** Whether data writes to blocks already in the head epoch may overwrite their bytes in the log. */
    private final boolean overwriteInPlace;
    private final Set<WriteContext> allContexts = ConcurrentHashMap.newKeySet();
    private final ThreadLocal<WriteContext> contexts;

    BlockWriter(Rocks rocks, BlockReader reader, InPlaceOverwrites overwrites, ExtentMap extents, ValueLog valueLog,
            PointerCache pointerCache, RecordCache records, StripeLocks stripes, BlockGeometry geometry,
            boolean overwriteInPlace) {
        this.rocks = rocks;
        this.records = records;
        this.valueLog = valueLog;
        this.reader = reader;
        this.overwrites = overwrites;
        this.extents = extents;
        this.pointerCache = pointerCache;
        this.stripes = stripes;
        this.geometry = geometry;
        this.blockSize = geometry.blockSize;
        this.blockShift = geometry.blockShift;
        this.overwriteInPlace = overwriteInPlace;
        this.contexts = ThreadLocal.withInitial(() -> {
            WriteContext context = new WriteContext(blockSize);
            allContexts.add(context);
            return context;
        });
    }

    /** This thread's write context. */
    WriteContext context() {
        return contexts.get();
    }

    /** Closes every thread's context; the store is closed and no write runs. */
    void close() {
        for (WriteContext context : allContexts) {
            context.close();
        }
    }

    /**
     * Write-zeroes ({@code kind} ZERO) and trim (HOLE) of a checked, non-empty range at a writable
     * epoch. Only ranges that do not already read as holes are touched, so zeroing a thin volume
     * costs what was written there, not its size. Whole blocks get a marker; partial blocks are
     * read-modify-written. Not atomic across {@link BlockStore#MAX_BATCH_BLOCKS} blocks, which NBD
     * does not ask for.
     */
    void zero(Volume volume, long epoch, long offset, long length, byte kind) {
        List<Extent> found = new ArrayList<>();
        extents.collect(volume, epoch, offset, length, found);
        for (Extent extent : found) {
            if (extent.type() == ExtentType.HOLE || extent.type() == ExtentType.ZERO && kind == BlockValue.ZERO) {
                continue;
            }
            write(volume, epoch, extent.offset(), extent.end(), null, kind);
        }
    }

    /**
     * Writes {@code [start, end)} of a volume at {@code epoch}: the bytes of {@code src} (read from
     * index 0), or zeros stored as {@code marker} blocks when {@code src} is null. Whole blocks are put
     * as they are (all-zero data becomes a ZERO marker); partial first and last blocks are
     * read-modify-written. Every block's stripe lock is held from before its read until its batch is
     * in RocksDB, so a read-modify-write never puts back a block another write replaced meanwhile.
     * Up to {@link BlockStore#MAX_BATCH_BLOCKS} blocks go in one atomic WriteBatch.
     */
    void write(Volume volume, long epoch, long start, long end, @Nullable ByteBuffer src, byte marker) {
        if (src != null) {
            writeToLog(volume, epoch, start, end, src);
            return;
        }
        long first = start >>> blockShift;
        long last = (end - 1) >>> blockShift;
        WriteContext context = contexts.get();
        for (long chunk = first; chunk <= last; chunk += BlockStore.MAX_BATCH_BLOCKS) {
            long chunkLast = Math.min(last, chunk + BlockStore.MAX_BATCH_BLOCKS - 1);
            int[] locked = stripes.lock(volume, chunk, chunkLast);
            ValueLog.Reservation reservation = null;
            try {
                context.clearBatch();
                context.regions.begin(chunk, chunkLast);
                // a partial block (at most the first and the last) keeps its other bytes: read, zero the part
                long[] partialBlocks = new long[2];
                int[] partialCrcs = new int[2];
                int partial = 0;
                for (long block = chunk; block <= chunkLast; block++) {
                    long blockStart = block << blockShift;
                    int from = (int) Math.max(0, start - blockStart);
                    int to = (int) Math.min(blockSize, end - blockStart);
                    if (from == 0 && to == blockSize) {
                        context.regions.set(block, context.marker(marker));
                        continue;
                    }
                    ByteBuffer value = partial == 0 ? context.block : context.lastBlock;
                    value.clear();
                    reader.readRange(volume, epoch, blockStart, value, 0, blockSize);
                    geometry.zero(value, from, to - from);
                    value.clear();
                    int crc = context.crc32c(value);
                    if (crc == geometry.zeroBlockCrc && value.mismatch(geometry.zeroBlock) == -1) {
                        context.regions.set(block, context.marker(BlockValue.ZERO));
                        continue;
                    }
                    partialBlocks[partial] = block;
                    partialCrcs[partial++] = crc;
                }
                if (partial > 0) {
                    reservation = valueLog.reserve(partial << blockShift);
                    for (int i = 0; i < partial; i++) {
                        long at = (long) i << blockShift;
                        reservation.write(at, (i == 0 ? context.block : context.lastBlock).duplicate().clear());
                        context.regions.setPointer(partialBlocks[i], reservation.segment(), reservation.position() + at,
                                partialCrcs[i]);
                    }
                }
                context.regions.putInto(context.batch, rocks, records, volume, epoch);
                rocks.commit(context.batch);
                context.regions.committed(volume, records);
            } catch (RocksDBException e) {
                throw rocks.failure("writing " + (end - start) + " bytes at " + start + " of " + volume.name, e);
            } finally {
                context.regions.abandoned(records);
                context.clearBatch();
                if (reservation != null) {
                    reservation.finish();
                }
                pointerCache.clear(volume.id, chunk, chunkLast);
                stripes.unlock(locked);
            }
        }
    }

    /**
     * {@link #write} of data with the value log on. Per batch of blocks, under their stripe
     * locks: blocks of all zeros become ZERO markers; data blocks whose versions are already in the
     * head epoch are overwritten in place when {@link InPlaceOverwrites#find} says so; the others
     * are appended to the log with one reservation. Appends are written first (one pwrite per run
     * contiguous in {@code src}), then the overwritten blocks' CRC table slots (new and old CRC,
     * one pwrite per run), then the overwrites (one pwrite per run contiguous in {@code src} and in
     * the log), then the pointers go to RocksDB in one WriteBatch (an overwritten block needs one
     * only the first time, to say its CRCs are in the table). The order is what a crash needs: an
     * appended block's bytes are there before its pointer, and an overwritten block's old and new
     * CRC before its bytes change; until its pointer leads to the table, reads find its CRCs there
     * ({@link PointerReads#overwrittenTo}). From choosing the blocks to overwrite until their bytes
     * are written, the write holds the value log's overwrite permit ({@link OverwriteFence}).
     * A partial first or last block is read-modify-written in its own buffer.
     */
    private void writeToLog(Volume volume, long epoch, long start, long end, ByteBuffer src) {
        long first = start >>> blockShift;
        long last = (end - 1) >>> blockShift;
        WriteContext context = contexts.get();
        boolean mayOverwrite = overwriteInPlace && epoch == volume.headEpoch;
        for (long chunk = first; chunk <= last; chunk += BlockStore.MAX_BATCH_BLOCKS) {
            long chunkLast = Math.min(last, chunk + BlockStore.MAX_BATCH_BLOCKS - 1);
            int[] locked = stripes.lock(volume, chunk, chunkLast);
            ValueLog.Reservation reservation = null;
            Lock permit = null;
            int data = 0;
            int overwritten = 0;
            boolean written = false;
            try {
                context.clearBatch();
                data = dataBlocks(context, volume, epoch, chunk, chunkLast, start, end, src);
                if (mayOverwrite && data >= overwrites.minRunBlocks()) {
                    permit = valueLog.overwritePermit();
                    permit.lock();
                }
                overwritten = overwrites.find(context, volume, epoch, data, permit != null);
                if (overwritten < data) {
                    reservation = valueLog.reserve((data - overwritten) << blockShift);
                    append(context, reservation, src, data);
                    if (overwritten == 0 && valueLog.walCopies().mayCopy(reservation.length())) {
                        copyToWal(context, reservation, src, data);
                    }
                }
                pointTo(context, reservation, data);
                if (overwritten > 0) {
                    try {
                        overwrites.writeTables(context, data);
                        overwrites.overwrite(context, src, data);
                    } catch (StoreException e) {
                        // slots may be half written while the bytes are unchanged: without this
                        // session in them, the next overwrite reads what the bytes are
                        overwrites.forgetSession(context, data, e);
                        throw e;
                    }
                }
                if (permit != null) {
                    // before RocksDB, which may wait for a memtable flush, which waits for the permit
                    permit.unlock();
                    permit = null;
                }
                context.regions.putInto(context.batch, rocks, records, volume, epoch);
                if (context.batch.count() > 0) {
                    rocks.commit(context.batch);
                }
                context.regions.committed(volume, records);
                written = true;
            } catch (RocksDBException e) {
                throw rocks.failure("writing " + (end - start) + " bytes at " + start + " of " + volume.name, e);
            } finally {
                if (permit != null) {
                    permit.unlock();
                }
                context.regions.abandoned(records);
                context.clearBatch();
                if (reservation != null) {
                    reservation.finish();
                }
                Arrays.fill(context.values, null);
                pointerCache.clear(volume.id, chunk, chunkLast);
                if (written && epoch == volume.headEpoch) {
                    cacheWritten(context, volume, epoch, data, reservation);
                }
                if (written && overwritten > 0) {
                    overwrites.rememberRuns(context, volume, epoch, data, chunk, chunkLast);
                }
                stripes.unlock(locked);
            }
        }
    }

    /**
     * Writes whole blocks scattered over a volume at {@code epoch}: {@code blocks[0, count)},
     * ascending and each once, their bytes back to back in {@code data} (from index 0). Per batch
     * of blocks in at most {@link RegionBatch#MAX_SCATTERED_REGIONS} regions, under their stripe
     * locks: all-zero blocks become ZERO markers, the others are appended to the log with one
     * reservation, then one record per region goes to RocksDB in one WriteBatch. Always appends:
     * for many small changes at once (a replica applying an epoch), where a write per block would
     * cost a log write and a RocksDB commit each.
     */
    void writeBlocks(Volume volume, long epoch, long[] blocks, int count, ByteBuffer data) {
        WriteContext context = contexts.get();
        long[] regions = new long[RegionBatch.MAX_SCATTERED_REGIONS];
        int from = 0;
        while (from < count) {
            int regionCount = 0;
            int to = from;
            while (to < count && to - from < BlockStore.MAX_BATCH_BLOCKS) {
                long region = RegionRecord.region(blocks[to]);
                if (regionCount == 0 || regions[regionCount - 1] != region) {
                    if (regionCount == regions.length) {
                        break;
                    }
                    regions[regionCount++] = region;
                }
                to++;
            }
            int[] locked = stripes.lockRegions(volume, regions, regionCount);
            ValueLog.Reservation reservation = null;
            int listed = 0;
            boolean written = false;
            try {
                context.clearBatch();
                context.regions.beginRegions(regions, regionCount);
                listed = scatteredBlocks(context, blocks, from, to, data);
                if (listed > 0) {
                    reservation = valueLog.reserve(listed << blockShift);
                    append(context, reservation, data, listed);
                    pointTo(context, reservation, listed);
                }
                context.regions.putInto(context.batch, rocks, records, volume, epoch);
                rocks.commit(context.batch);
                context.regions.committed(volume, records);
                written = true;
            } catch (RocksDBException e) {
                throw rocks.failure("writing " + (to - from) + " scattered blocks of " + volume.name, e);
            } finally {
                context.regions.abandoned(records);
                context.clearBatch();
                if (reservation != null) {
                    reservation.finish();
                }
                for (int i = from; i < to; i++) {
                    pointerCache.clear(volume.id, blocks[i]);
                }
                if (written && epoch == volume.headEpoch) {
                    cacheWritten(context, volume, epoch, listed, reservation);
                }
                if (written) {
                    overwrites.count(WriteOutcome.APPENDED_ALWAYS, listed);
                }
                stripes.unlock(locked);
            }
            from = to;
        }
    }

    /**
     * The blocks {@code blocks[from, to)} of {@link #writeBlocks}: all-zero ones become ZERO
     * markers, the others are listed in {@code context} with the slots they take in the
     * reservation, in order. Returns how many are listed.
     */
    private int scatteredBlocks(WriteContext context, long[] blocks, int from, int to, ByteBuffer data) {
        int listed = 0;
        for (int i = from; i < to; i++) {
            int at = i << blockShift;
            ByteBuffer value = data.slice(at, blockSize);
            int crc = context.crc32c(value);
            if (crc == geometry.zeroBlockCrc && value.mismatch(geometry.zeroBlock) == -1) {
                context.regions.set(blocks[i], context.marker(BlockValue.ZERO));
                continue;
            }
            context.newCrc[listed] = crc;
            context.values[listed] = null;
            context.sourceIndex[listed] = at;
            context.blocks[listed] = blocks[i];
            context.slot[listed] = listed;
            listed++;
        }
        return listed;
    }

    /**
     * The blocks of one batch of {@link #writeToLog}: all-zero blocks become ZERO markers in
     * {@code context.regions}; the others are listed in {@code context} (CRC, block, where their
     * bytes are in {@code src}, or their own buffer for a read-modify-written partial block).
     * Returns how many are listed. Its own method, like {@link #pointTo}: C2 compiles each loop
     * apart instead of recompiling the whole write path around it.
     */
    private int dataBlocks(WriteContext context, Volume volume, long epoch, long chunk, long chunkLast, long start,
            long end, ByteBuffer src) {
        long first = start >>> blockShift;
        ByteBuffer source = src.duplicate();
        int data = 0;
        context.regions.begin(chunk, chunkLast);
        for (long block = chunk; block <= chunkLast; block++) {
            long blockStart = block << blockShift;
            int from = (int) Math.max(0, start - blockStart);
            int to = (int) Math.min(blockSize, end - blockStart);
            int srcIndex = (int) (blockStart + from - start);
            // a whole block is read where it is in src: no buffer object per block
            ByteBuffer value;
            if (from == 0 && to == blockSize) {
                value = source.limit(srcIndex + blockSize).position(srcIndex);
            } else {
                value = block == first ? context.block : context.lastBlock;
                value.clear();
                reader.readRange(volume, epoch, blockStart, value, 0, blockSize);
                value.put(from, src, srcIndex, to - from);
                srcIndex = -1;
            }
            // the CRC first: only a block with the zero block's CRC can be all zeros
            int crc = context.crc32c(value);
            if (crc == geometry.zeroBlockCrc && value.mismatch(geometry.zeroBlock) == -1) {
                context.regions.set(block, context.marker(BlockValue.ZERO));
            } else {
                context.newCrc[data] = crc;
                context.values[data] = srcIndex < 0 ? value : null;
                context.sourceIndex[data] = srcIndex;
                context.blocks[data] = block;
                data++;
            }
        }
        return data;
    }

    /**
     * Puts the new pointers of a batch's listed blocks into {@code context.regions}: appended ones
     * to their slots, overwritten ones (the first time) to the segment's CRC table.
     */
    private void pointTo(WriteContext context, ValueLog.@Nullable Reservation reservation, int data) {
        for (int i = 0; i < data; i++) {
            int crc = context.newCrc[i];
            ByteBuffer pointer = context.pointer.clear();
            if (context.slot[i] >= 0) {
                ValueLog.Reservation appended = Objects.requireNonNull(reservation,
                        "appended blocks without a reservation");
                context.regions.setPointer(context.blocks[i], appended.segment(),
                        appended.position() + ((long) context.slot[i] << blockShift), crc);
            } else if (!context.inTable[i]) {
                // from now on its CRCs live in the segment's table, which is written first
                BlockPointer.encodeInTable(pointer, context.targetSegment[i], context.targetPosition[i]);
                context.regions.set(context.blocks[i], pointer.limit(BlockPointer.TABLE_LENGTH));
            }
        }
    }

    /** Writes the appended data blocks to a reservation: runs contiguous in {@code src} with one call each. */
    private void append(WriteContext context, ValueLog.Reservation reservation, ByteBuffer src, int data) {
        int i = 0;
        while (i < data) {
            int slot = context.slot[i];
            if (slot < 0) {
                i++;
                continue;
            }
            int runStart = i;
            int sourceIndex = context.sourceIndex[i];
            i++;
            if (sourceIndex >= 0) {
                while (i < data && context.slot[i] == slot + (i - runStart)
                        && context.sourceIndex[i] == sourceIndex + ((i - runStart) << blockShift)) {
                    i++;
                }
                reservation.write((long) slot << blockShift, src.slice(sourceIndex, (i - runStart) << blockShift));
            } else {
                reservation.write((long) slot << blockShift, context.values[runStart].duplicate());
            }
        }
    }

    /**
     * Puts a copy of a reservation's bytes (every listed block is appended into it) into the
     * batch of their pointers, for a flush that then syncs only the WAL ({@link WalCopies}).
     */
    private void copyToWal(WriteContext context, ValueLog.Reservation reservation, ByteBuffer src, int data)
            throws RocksDBException {
        byte[] blob = WalCopies.blob(reservation.segment(), reservation.position(), reservation.length());
        for (int i = 0; i < data; i++) {
            int at = WalCopies.HEADER_BYTES + (context.slot[i] << blockShift);
            int sourceIndex = context.sourceIndex[i];
            if (sourceIndex >= 0) {
                src.get(sourceIndex, blob, at, blockSize);
            } else {
                ByteBuffer value = context.values[i];
                value.get(value.position(), blob, at, blockSize);
            }
        }
        context.batch.putLogData(blob);
        reservation.copiedToWal();
    }

    /**
     * After a batch of the head epoch is written (pointers committed, bytes in place): puts the
     * pointers of its data blocks into the {@link PointerCache}, so that reads of them, 4 KiB or
     * long, skip RocksDB. Under their stripe locks, after the batch's blocks were cleared.
     */
    void cacheWritten(WriteContext context, Volume volume, long epoch, int data,
            ValueLog.@Nullable Reservation reservation) {
        for (int i = 0; i < data; i++) {
            int crc = context.newCrc[i];
            if (context.slot[i] >= 0) {
                ValueLog.Reservation appended = Objects.requireNonNull(reservation,
                        "appended blocks without a reservation");
                pointerCache.put(volume.id, context.blocks[i], epoch, appended.segment(),
                        appended.position() + ((long) context.slot[i] << blockShift), crc, crc);
            } else {
                pointerCache.put(volume.id, context.blocks[i], epoch, context.targetSegment[i],
                        context.targetPosition[i], crc, context.previousCrc[i]);
            }
        }
    }
}

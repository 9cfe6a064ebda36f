package cgw.store;

import cgw.store.key.BlockPointer;
import cgw.store.key.BlockValue;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;
import org.rocksdb.ReadOptions;

/**
 * Reads a range of a volume at an epoch: one iterator walks the versions of its blocks, whole
 * blocks in the value log are read in runs (one {@code pread} each) and checked against their
 * CRCs, and blocks a clone never wrote fall through to its parent. Reads of the head take the
 * shortcuts of {@link HeadReads} first. A range found scattered in the log is handed to the
 * {@link Defragmenter}.
 *
 * <p>Threads: any. Holds the value log's read lock while it follows pointers; takes stripe locks
 * only to repeat a read that met a checksum mismatch.
 */
final class BlockReader {
    private final Rocks rocks;
    private final ValueLog valueLog;
    private final PointerReads pointers;
    private final HeadReads headReads;
    private final StripeLocks stripes;
    private final Defragmenter defragmenter;
    private final BlockGeometry geometry;
    private final int blockSize;
    private final int blockShift;
    /** Whether writes overwrite blocks in place, so that a read may race one. */
    private final boolean overwriteInPlace;

    BlockReader(Rocks rocks, PointerReads pointers, HeadReads headReads, StripeLocks stripes, Defragmenter defragmenter,
            BlockGeometry geometry, boolean overwriteInPlace) {
        this.rocks = rocks;
        this.valueLog = pointers.valueLog();
        this.pointers = pointers;
        this.headReads = headReads;
        this.stripes = stripes;
        this.defragmenter = defragmenter;
        this.geometry = geometry;
        this.blockSize = geometry.blockSize;
        this.blockShift = geometry.blockShift;
        this.overwriteInPlace = overwriteInPlace;
    }

    /** {@link BlockStore#read(Volume, long, long, ByteBuffer)} of a checked, non-empty range. */
    void read(Volume volume, long epoch, long offset, ByteBuffer dst) {
        int length = dst.remaining();
        try {
            readRange(volume, epoch, offset, dst.slice(), 0, length);
        } catch (ChecksumMismatch e) {
            if (!overwriteInPlace) {
                throw e;
            }
            // maybe a write overwrote a block in place while this read copied it
            readRangeExclusive(volume, epoch, offset, dst.slice(), length);
        }
    }

    /**
     * {@link BlockStore#readBlocks} of checked blocks: one iterator walks them all, where a read
     * per block would open one each. A block that fails its checksum is read again on its own, as
     * {@link #read} does.
     */
    void readBlocks(Volume volume, long epoch, long[] blocks, int count, ByteBuffer dst) {
        ByteBuffer out = dst.slice();
        try {
            valueLog.readLock().lock();
            try {
                readBlocksLocked(volume, epoch, blocks, count, out);
            } finally {
                valueLog.readLock().unlock();
            }
        } catch (ChecksumMismatch e) {
            if (!overwriteInPlace) {
                throw e;
            }
            for (int i = 0; i < count; i++) { // outside the log's lock: the retry takes stripe locks first
                read(volume, epoch, blocks[i] << blockShift, out.slice(i << blockShift, blockSize));
            }
        }
    }

    private void readBlocksLocked(Volume volume, long epoch, long[] blocks, int count, ByteBuffer out) {
        Fill fill = new Fill(volume, out);
        try (RegionCursor cursor = new RegionCursor(rocks.db.newIterator(rocks.blocks, rocks.readOptions),
                blockShift)) {
            for (int i = 0; i < count; i++) {
                long block = blocks[i];
                fill.block(cursor.resolve(volume.id, RegionRecord.region(block), epoch), block, 0, blockSize,
                        i << blockShift);
            }
            fill.readLog();
        }
        fill.readParent();
    }

    /**
     * {@link #readRange} under the stripe locks of the blocks read, which writes that overwrite in
     * place hold until their bytes are written: a checksum that fails here is a damaged block.
     */
    private void readRangeExclusive(Volume volume, long epoch, long offset, ByteBuffer out, int length) {
        long end = offset + length;
        for (long from = offset; from < end;) {
            long next = Math.min(end, ((from >>> blockShift) + BlockStore.MAX_BATCH_BLOCKS) << blockShift);
            int[] locked = stripes.lock(volume, from >>> blockShift, (next - 1) >>> blockShift);
            try {
                readRange(volume, epoch, from, out, (int) (from - offset), (int) (next - from));
            } finally {
                stripes.unlock(locked);
            }
            from = next;
        }
    }

    /**
     * Fills {@code out[outPos, outPos + length)} with the volume's bytes at {@code offset} as of
     * {@code epoch}. One iterator walks the range: the newest version at or below the epoch of
     * each block is found by a seek, or by {@code next()} when the previous block's key leads
     * straight to it (the common case of a range written in one epoch). Blocks with no version
     * fall through to the parent after the walk.
     */
    void readRange(Volume volume, long epoch, long offset, ByteBuffer out, int outPos, int length) {
        valueLog.readLock().lock();
        try {
            readRangeLocked(volume, epoch, offset, out, outPos, length);
        } finally {
            valueLog.readLock().unlock();
        }
    }

    private void readRangeLocked(Volume volume, long epoch, long offset, ByteBuffer out, int outPos, int length) {
        long first = offset >>> blockShift;
        long last = (offset + length - 1) >>> blockShift;
        // the head epoch this read sees: a cut meanwhile must not make an explicit epoch read a newer one
        long headEpoch = epoch == BlockStore.HEAD ? volume.headEpoch : epoch;
        boolean head = headEpoch == volume.headEpoch;
        if (length == blockSize && first == last && out.isDirect() && head
                && headReads.readBlock(volume, headEpoch, first, out, outPos)) {
            return;
        }
        if (head && first != last && ((offset | length) & (blockSize - 1)) == 0
                && headReads.readFromCache(volume, headEpoch, first, last, out, outPos)) {
            return;
        }
        ReadOptions options = length >= Rocks.LONG_READ_BYTES ? rocks.scanOptions : rocks.readOptions;
        Fill fill = new Fill(volume, out);
        try (RegionCursor cursor = new RegionCursor(rocks.db.newIterator(rocks.blocks, options), blockShift)) {
            for (long block = first; block <= last; block++) {
                long blockStart = block << blockShift;
                int from = (int) Math.max(0, offset - blockStart);
                int to = (int) Math.min(blockSize, offset + length - blockStart);
                fill.block(cursor.resolve(volume.id, RegionRecord.region(block), epoch), block, from, to - from,
                        outPos + (int) (blockStart + from - offset));
            }
            int preads = fill.readLog();
            if (head && Defragmenter.isScattered((int) (last - first + 1), preads)) {
                defragmenter.request(volume.id, headEpoch, first, last);
            }
        }
        fill.readParent();
    }

    /**
     * What one walk of the block map puts into {@code out}, block by block: a version's bytes
     * (pointed blocks gathered into log runs), zeros, or, in a clone, a gap its parent fills.
     * {@link #readLog} reads the runs, under the value log's lock; {@link #readParent} the gaps,
     * after the walk's iterator is closed.
     */
    private final class Fill {
        private final Volume volume;
        private final ByteBuffer out;
        private @Nullable LogRun run;
        private @Nullable Gaps gaps;

        Fill(Volume volume, ByteBuffer out) {
            this.volume = volume;
            this.out = out;
        }

        /** The part {@code [from, from + length)} of {@code block}, whose region record is {@code region}, at {@code at}. */
        void block(RegionRecord region, long block, int from, int length, int at) {
            int slot = RegionRecord.slot(block);
            if (region.has(slot)) {
                run = copyValue(region.value(slot), out, at, from, length, run);
            } else if (volume.parent == null) {
                geometry.zero(out, at, length);
            } else {
                gaps = Gaps.add(gaps, (block << blockShift) + from, at, length);
            }
        }

        /** Reads the gathered runs; returns how many preads that took (0: none). */
        int readLog() {
            if (run == null) {
                return 0;
            }
            run.read();
            return run.reads;
        }

        void readParent() {
            for (int i = 0; gaps != null && i < gaps.count; i++) {
                BlockReader.this.readParent(volume, gaps.offset[i], out, gaps.at[i], gaps.length[i]);
            }
        }
    }

    /** A clone's unwritten range, read from its parent at the pinned epoch; past the parent's size, zeros. */
    private void readParent(Volume volume, long offset, ByteBuffer out, int at, int length) {
        Volume parent = volume.parent;
        if (parent == null) {
            throw new IllegalStateException(volume + " has no parent to read through to");
        }
        long inParent = Math.max(0, Math.min(length, volume.parentSizeBytes - offset));
        if (inParent > 0) {
            readRange(parent, volume.parentEpoch, offset, out, at, (int) inParent);
        }
        for (int done = (int) inParent; done < length;) {
            int n = Math.min(blockSize, length - done);
            geometry.zero(out, at + done, n);
            done += n;
        }
    }

    /**
     * Copies the part {@code [from, from + length)} of the block whose version is {@code value} (a
     * marker or a pointer) to {@code at}. Whole blocks join {@code run} (returned, maybe new),
     * read later with one pread per run of blocks that lie next to each other in a segment and in
     * {@code out}.
     */
    private @Nullable LogRun copyValue(ByteBuffer value, ByteBuffer out, int at, int from, int length,
            @Nullable LogRun run) {
        int size = value.remaining();
        if (size == BlockValue.MARKER_LENGTH) {
            geometry.zero(out, at, length);
            return run;
        }
        if (!BlockPointer.isPointer(size)) {
            throw geometry.corruptValue(size);
        }
        if (from == 0 && length == blockSize) {
            boolean inTable = BlockPointer.inTable(size);
            if (run == null) {
                run = pointers.newRun(out);
            }
            run.add(BlockPointer.segment(value, 0), BlockPointer.position(value, 0), at,
                    inTable ? 0 : BlockPointer.crc(value, 0), inTable ? 0 : BlockPointer.previousCrc(value, 0, size),
                    inTable);
            return run;
        }
        ByteBuffer data = ByteBuffer.allocate(blockSize);
        pointers.readPointed(value, 0, size, data);
        out.put(at, data, from, length);
        return run;
    }

    /** Gaps of a clone's read that fall through to its parent: volume offset, out index, length. */
    private static final class Gaps {
        long[] offset = new long[8];
        int[] at = new int[8];
        int[] length = new int[8];
        int count;

        static Gaps add(@Nullable Gaps gaps, long volumeOffset, int outIndex, int n) {
            if (gaps == null) {
                gaps = new Gaps();
            }
            int last = gaps.count - 1;
            if (last >= 0 && gaps.offset[last] + gaps.length[last] == volumeOffset
                    && gaps.at[last] + gaps.length[last] == outIndex) {
                gaps.length[last] += n;
                return gaps;
            }
            if (gaps.count == gaps.offset.length) {
                gaps.offset = Arrays.copyOf(gaps.offset, gaps.count * 2);
                gaps.at = Arrays.copyOf(gaps.at, gaps.count * 2);
                gaps.length = Arrays.copyOf(gaps.length, gaps.count * 2);
            }
            gaps.offset[gaps.count] = volumeOffset;
            gaps.at[gaps.count] = outIndex;
            gaps.length[gaps.count] = n;
            gaps.count++;
            return gaps;
        }
    }
}

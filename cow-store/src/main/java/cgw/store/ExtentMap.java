package cgw.store;

import cgw.store.key.BlockValue;
import cgw.store.key.DirtyKey;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.roaringbitmap.longlong.Roaring64Bitmap;
import org.rocksdb.RocksIterator;

/**
 * What a volume holds where, without reading data: the extents of a range (data, zeros, holes,
 * a clone's fall-through to its parent) from a walk of its block keys, and the blocks written in
 * a span of epochs from the dirty index, never a scan of the volume. Any thread.
 */
final class ExtentMap {
    private final Rocks rocks;
    private final int blockSize;
    private final int blockShift;

    ExtentMap(Rocks rocks, BlockGeometry geometry) {
        this.rocks = rocks;
        this.blockSize = geometry.blockSize;
        this.blockShift = geometry.blockShift;
    }

    /**
     * Appends what each part of {@code [offset, offset + length)} holds at {@code epoch} to
     * {@code out}, in order and merged; a range the caller checked, not empty.
     */
    void collect(Volume volume, long epoch, long offset, long length, List<Extent> out) {
        long first = offset >>> blockShift;
        long last = (offset + length - 1) >>> blockShift;
        long end = offset + length;
        byte[] marker = new byte[1];
        List<Span> own = new ArrayList<>();
        try (BlockCursor cursor = new BlockCursor(rocks.db.newIterator(rocks.blocks, rocks.readOptions))) {
            long block = first;
            while (block <= last) {
                // the cursor is at the first key >= (volume, block, ~epoch), or past the volume
                cursor.seek(volume.id, block, epoch);
                long found = cursor.blockOf(volume.id);
                if (found == block) {
                    int size = cursor.it.value(marker);
                    ExtentType type = size != BlockValue.MARKER_LENGTH
                            ? ExtentType.DATA
                            : marker[0] == BlockValue.HOLE ? ExtentType.HOLE : ExtentType.ZERO;
                    appendSpan(own, block << blockShift, blockSize, type, offset, end);
                    block++;
                    cursor.next();
                } else {
                    // no version at or below the epoch in [block, found): one gap, however long
                    long gapEnd = Math.min(found, last + 1);
                    appendSpan(own, block << blockShift, (gapEnd - block) << blockShift, null, offset, end);
                    block = gapEnd;
                }
            }
        }
        for (Span extent : own) {
            ExtentType type = extent.type();
            if (type != null) {
                merge(out, new Extent(extent.offset(), extent.length(), type));
            } else if (volume.parent == null) {
                merge(out, new Extent(extent.offset(), extent.length(), ExtentType.HOLE));
            } else {
                long inParent = Math.max(0, Math.min(extent.length(), volume.parentSizeBytes - extent.offset()));
                if (inParent > 0) {
                    List<Extent> fromParent = new ArrayList<>();
                    collect(volume.parent, volume.parentEpoch, extent.offset(), inParent, fromParent);
                    fromParent.forEach(e -> merge(out, e));
                }
                if (inParent < extent.length()) {
                    merge(out, new Extent(extent.offset() + inParent, extent.length() - inParent, ExtentType.HOLE));
                }
            }
        }
    }

    /** A range of a volume's own versions; a null type is a gap with none, to resolve in the parent. */
    private record Span(long offset, long length, @Nullable ExtentType type) {
    }

    /** Appends a range clipped to {@code [from, to)}, merged with the last one when that continues it. */
    private static void appendSpan(List<Span> out, long start, long length, @Nullable ExtentType type, long from,
            long to) {
        long clippedStart = Math.max(start, from);
        long clippedEnd = Math.min(start + length, to);
        if (clippedEnd <= clippedStart) {
            return;
        }
        if (!out.isEmpty()) {
            Span previous = out.get(out.size() - 1);
            if (previous.type() == type && previous.offset() + previous.length() == clippedStart) {
                out.set(out.size() - 1, new Span(previous.offset(), clippedEnd - previous.offset(), type));
                return;
            }
        }
        out.add(new Span(clippedStart, clippedEnd - clippedStart, type));
    }

    private static void merge(List<Extent> out, Extent extent) {
        if (!out.isEmpty()) {
            Extent previous = out.get(out.size() - 1);
            if (previous.type() == extent.type() && previous.end() == extent.offset()) {
                out.set(out.size() - 1,
                        new Extent(previous.offset(), previous.length() + extent.length(), extent.type()));
                return;
            }
        }
        out.add(extent);
    }

    /** The blocks of a volume with a version written in epochs {@code [fromEpochInclusive, toEpochInclusive]}. */
    Roaring64Bitmap dirtyBlocks(Volume volume, long fromEpochInclusive, long toEpochInclusive) {
        Roaring64Bitmap blocks = new Roaring64Bitmap();
        byte[] key = new byte[DirtyKey.LENGTH];
        ByteBuffer keyBuffer = ByteBuffer.wrap(key);
        try (RocksIterator it = rocks.db.newIterator(rocks.dirty, rocks.scanOptions)) {
            for (it.seek(DirtyKey.encode(volume.id, fromEpochInclusive, 0)); it.isValid(); it.next()) {
                it.key(key);
                if (DirtyKey.volumeId(keyBuffer) != volume.id || DirtyKey.epoch(keyBuffer) > toEpochInclusive) {
                    break;
                }
                blocks.addLong(DirtyKey.blockIndex(keyBuffer));
            }
            Rocks.checkStatus(it);
        }
        return blocks;
    }
}

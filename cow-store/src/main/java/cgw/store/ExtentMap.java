package cgw.store;

import cgw.store.key.BlockValue;
import cgw.store.key.DirtyKey;
import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.roaringbitmap.longlong.Roaring64Bitmap;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/**
 * What a volume holds where, without reading data: the extents of a range (data, zeros, holes,
 * a clone's fall-through to its parent) from a walk of its region records, and the regions and
 * blocks written in a span of epochs from the dirty index, never a scan of the volume. Any thread.
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
        List<Span> own = new ArrayList<>();
        try (RegionCursor cursor = new RegionCursor(rocks.db.newIterator(rocks.blocks, rocks.readOptions),
                blockShift)) {
            long block = first;
            while (block <= last) {
                long region = RegionRecord.region(block);
                RegionRecord record = cursor.resolve(volume.id, region, epoch);
                if (record.isEmpty()) {
                    // no version at or below the epoch up to the next region with one: one gap, however long
                    long next = cursor.nextRegion(volume.id, region + 1, epoch);
                    long gapEnd = next == Long.MAX_VALUE || next > RegionRecord.region(last)
                            ? last + 1
                            : next << RegionRecord.SHIFT;
                    appendSpan(own, block << blockShift, (gapEnd - block) << blockShift, null, offset, end);
                    block = gapEnd;
                    continue;
                }
                long regionLast = Math.min(last, ((region + 1) << RegionRecord.SHIFT) - 1);
                for (; block <= regionLast; block++) {
                    int slot = RegionRecord.slot(block);
                    ExtentType type = null;
                    if (record.has(slot)) {
                        ByteBuffer value = record.value(slot);
                        type = value.remaining() != BlockValue.MARKER_LENGTH
                                ? ExtentType.DATA
                                : value.get(0) == BlockValue.HOLE ? ExtentType.HOLE : ExtentType.ZERO;
                    }
                    appendSpan(own, block << blockShift, blockSize, type, offset, end);
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

    /** The regions of a volume with a record written in epochs {@code [fromEpochInclusive, toEpochInclusive]}. */
    Roaring64Bitmap dirtyRegions(Volume volume, long fromEpochInclusive, long toEpochInclusive) {
        Roaring64Bitmap regions = new Roaring64Bitmap();
        scanDirty(volume, fromEpochInclusive, toEpochInclusive, (epoch, region) -> regions.addLong(region));
        return regions;
    }

    /**
     * The blocks of a volume with a version written in epochs {@code [fromEpochInclusive,
     * toEpochInclusive]}: the dirty index names the regions, their records the blocks.
     */
    Roaring64Bitmap dirtyBlocks(Volume volume, long fromEpochInclusive, long toEpochInclusive) {
        return dirtyBlocks(volume, fromEpochInclusive, toEpochInclusive, 0, Long.MAX_VALUE);
    }

    /**
     * {@link #dirtyBlocks(Volume, long, long)} limited to blocks {@code [firstBlock, lastBlock]}:
     * one seek per epoch with changes, then only the index entries of the range's regions.
     */
    Roaring64Bitmap dirtyBlocks(Volume volume, long fromEpochInclusive, long toEpochInclusive, long firstBlock,
            long lastBlock) {
        Roaring64Bitmap blocks = new Roaring64Bitmap();
        ByteBuffer key = ByteBuffer.allocateDirect(RegionKey.LENGTH);
        ByteBuffer value = ByteBuffer.allocateDirect(RegionRecord.MAX_LENGTH);
        RegionRecord record = new RegionRecord(blockShift);
        scanDirty(volume, fromEpochInclusive, toEpochInclusive, RegionRecord.region(firstBlock),
                RegionRecord.region(lastBlock), (epoch, region) -> {
                    try {
                        if (!RegionRecords.read(rocks, volume.id, region, epoch, key, value, record, false)) {
                            return; // collected since the scan began: nothing of it is visible any more
                        }
                    } catch (RocksDBException e) {
                        throw rocks.failure("reading region " + region + " of " + volume.name, e);
                    }
                    long first = region << RegionRecord.SHIFT;
                    for (int mask = record.mask(); mask != 0; mask &= mask - 1) {
                        long block = first + Integer.numberOfTrailingZeros(mask);
                        if (block >= firstBlock && block <= lastBlock) {
                            blocks.addLong(block);
                        }
                    }
                });
        return blocks;
    }

    private interface DirtyEntry {
        void accept(long epoch, long region);
    }

    private void scanDirty(Volume volume, long fromEpochInclusive, long toEpochInclusive, DirtyEntry entries) {
        scanDirty(volume, fromEpochInclusive, toEpochInclusive, 0, Long.MAX_VALUE, entries);
    }

    /** Entries of epochs {@code [fromEpochInclusive, toEpochInclusive]} for regions {@code [firstRegion, lastRegion]}. */
    private void scanDirty(Volume volume, long fromEpochInclusive, long toEpochInclusive, long firstRegion,
            long lastRegion, DirtyEntry entries) {
        byte[] key = new byte[DirtyKey.LENGTH];
        ByteBuffer keyBuffer = ByteBuffer.wrap(key);
        try (RocksIterator it = rocks.db.newIterator(rocks.dirty, rocks.scanOptions)) {
            it.seek(DirtyKey.encode(volume.id, fromEpochInclusive, firstRegion));
            while (it.isValid()) {
                it.key(key);
                long epoch = DirtyKey.epoch(keyBuffer);
                if (DirtyKey.volumeId(keyBuffer) != volume.id || epoch > toEpochInclusive) {
                    break;
                }
                long region = DirtyKey.region(keyBuffer);
                if (region < firstRegion) {
                    it.seek(DirtyKey.encode(volume.id, epoch, firstRegion));
                } else if (region > lastRegion) {
                    if (epoch == toEpochInclusive) {
                        break;
                    }
                    it.seek(DirtyKey.encode(volume.id, epoch + 1, firstRegion));
                } else {
                    entries.accept(epoch, region);
                    it.next();
                }
            }
            Rocks.checkStatus(it);
        }
    }
}

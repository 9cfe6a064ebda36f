package cgw.store;

import cgw.store.key.BlockPointer;
import cgw.store.key.BlockValue;
import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

/**
 * Reads of the head epoch that skip the walk over block versions: by the pointers the
 * {@link PointerCache} holds (writes put the pointers they write, reads those they look up), or
 * by a point lookup of the head epoch's version. The no-wait variants serve reads on a thread
 * that must not block (an NBD event loop): they only try locks and read only pages in the page
 * cache, and give up, with nothing changed, where the waiting read must decide. Why a cached
 * pointer is never stale: docs/store.md, "The pointer cache".
 *
 * <p>Threads: any; per-thread scratch in thread locals. Must never wait when called as no-wait.
 */
final class HeadReads {
    /** Misses of the pointer cache past which a long head read walks RocksDB instead ({@link #readFromCache}). */
    private static final int MAX_CACHE_MISS_PERMILLE = 125;

    private final Rocks rocks;
    private final ValueLog valueLog;
    private final PointerReads pointers;
    private final PointerCache pointerCache;
    private final StripeLocks stripes;
    private final Defragmenter defragmenter;
    private final BlockGeometry geometry;
    private final int blockSize;
    private final int blockShift;
    /** Per-thread buffers of the point lookups. */
    private final ThreadLocal<Lookup> lookups;
    private final ThreadLocal<PointerCache.Hit> cacheHits = ThreadLocal.withInitial(PointerCache.Hit::new);
    private final ThreadLocal<CachedRange> cachedRanges = ThreadLocal.withInitial(CachedRange::new);

    HeadReads(Rocks rocks, PointerReads pointers, PointerCache pointerCache, StripeLocks stripes,
            Defragmenter defragmenter, BlockGeometry geometry) {
        this.rocks = rocks;
        this.valueLog = pointers.valueLog();
        this.pointers = pointers;
        this.pointerCache = pointerCache;
        this.stripes = stripes;
        this.defragmenter = defragmenter;
        this.geometry = geometry;
        this.blockSize = geometry.blockSize;
        this.blockShift = geometry.blockShift;
        this.lookups = ThreadLocal.withInitial(() -> new Lookup(geometry.blockShift));
    }

    /** A point lookup's key, the record found and what it says of one block. */
    private static final class Lookup {
        final ByteBuffer key = ByteBuffer.allocateDirect(RegionKey.LENGTH);
        final ByteBuffer record = ByteBuffer.allocateDirect(RegionRecord.MAX_LENGTH);
        final RegionRecord decoded;

        Lookup(int blockShift) {
            decoded = new RegionRecord(blockShift);
        }
    }

    /**
     * The version {@code block} has in exactly {@code epoch}, into {@code value} from index 0: its
     * length (a marker or a pointer), or {@link RocksDB#NOT_FOUND} when it has none there.
     */
    private int versionAt(Volume volume, long block, long epoch, ByteBuffer value) throws RocksDBException {
        Lookup lookup = lookups.get();
        lookup.decoded.clear();
        RegionRecords.read(rocks, volume.id, RegionRecord.region(block), epoch, lookup.key, lookup.record,
                lookup.decoded, true);
        int slot = RegionRecord.slot(block);
        if (!lookup.decoded.has(slot)) {
            return RocksDB.NOT_FOUND;
        }
        ByteBuffer found = lookup.decoded.value(slot);
        value.put(0, found, 0, found.remaining());
        return found.remaining();
    }

    /**
     * {@link BlockStore#readNoWait} of whole aligned blocks, at most
     * {@link BlockStore#MAX_NO_WAIT_READ_BYTES}, into a direct {@code dst}; the caller checked those.
     */
    boolean readNoWait(Volume volume, long offset, ByteBuffer dst) {
        int length = dst.remaining();
        if (volume.deleted || offset < 0 || offset > volume.sizeBytes - length) {
            return false;
        }
        Lock removal = valueLog.readLock();
        if (!removal.tryLock()) {
            return false;
        }
        try {
            return length == blockSize
                    ? readBlockNoWait(volume, offset >>> blockShift, dst.slice())
                    : readBlocksNoWait(volume, volume.headEpoch, offset >>> blockShift, length >>> blockShift,
                            dst.slice());
        } finally {
            removal.unlock();
        }
    }

    /** {@link #readNoWait} of one block (the 4 KiB random read), under the value log's read lock. */
    private boolean readBlockNoWait(Volume volume, long block, ByteBuffer into) {
        PointerCache.Hit hit = cacheHits.get();
        if (!pointerCache.get(volume.id, block, volume.headEpoch, hit)
                || !valueLog.readNoWait(hit.segment, hit.position, into)) {
            return false;
        }
        int actual = Checksums.crc32c(Checksums.threadCrc(), into.flip());
        if (actual == hit.crc || actual == hit.previousCrc) {
            return true;
        }
        // a race with an overwrite in place, or damage: read() decides
        pointerCache.clear(volume.id, block);
        return false;
    }

    /** {@link #readNoWait} of {@code count} blocks from {@code first}, under the value log's read lock. */
    private boolean readBlocksNoWait(Volume volume, long epoch, long first, int count, ByteBuffer out) {
        CachedRange range = cachedRanges.get().ensure(count);
        PointerCache.Hit hit = cacheHits.get();
        int runs = 0;
        for (int i = 0; i < count; i++) {
            if (!pointerCache.get(volume.id, first + i, epoch, hit)) {
                return false;
            }
            range.set(i, hit);
            if ((i == 0 || !range.follows(i, blockSize))
                    && ++runs > Math.max(1, count / Defragmenter.BLOCKS_PER_BREAK)) {
                return false; // scattered: the waiting read asks for the range to be laid out again
            }
        }
        for (int i = 0; i < count;) {
            int end = i + 1;
            while (end < count && range.follows(end, blockSize)) {
                end++;
            }
            if (!valueLog.readNoWait(range.segment[i], range.position[i],
                    out.slice(i << blockShift, (end - i) << blockShift))) {
                return false;
            }
            i = end;
        }
        CRC32C crc = Checksums.threadCrc();
        for (int i = 0; i < count; i++) {
            int actual = Checksums.crc32c(crc, out, i << blockShift, blockSize);
            if (actual != range.crc[i] && actual != range.previousCrc[i]) {
                // a race with an overwrite in place, or damage: read() decides
                pointerCache.clear(volume.id, first + i);
                return false;
            }
        }
        return true;
    }

    /**
     * Whole blocks of the head by their pointers in the {@link PointerCache}, without an
     * iterator: the few blocks it misses are looked up one by one in the head epoch. False, with
     * nothing read, when more than {@link #MAX_CACHE_MISS_PERMILLE} per mille miss or a missed
     * block has no version in the head epoch (the caller walks the versions). Read as the walk
     * reads them: one pread per run of blocks next to each other in a segment, every block
     * checked against its CRCs. A block that fails them clears the range from the cache and the
     * read is repeated through RocksDB, which decides (a race with an overwrite in place, or
     * damage). Under the value log's read lock.
     */
    boolean readFromCache(Volume volume, long epoch, long first, long last, ByteBuffer out, int outPos) {
        int count = (int) (last - first + 1);
        CachedRange range = cachedRanges.get().ensure(count);
        PointerCache.Hit hit = cacheHits.get();
        int misses = 0;
        for (int i = 0; i < count; i++) {
            if (pointerCache.get(volume.id, first + i, epoch, hit)) {
                range.set(i, hit);
            } else if (++misses * 1000L > (long) count * MAX_CACHE_MISS_PERMILLE) {
                return false;
            } else {
                range.segment[i] = CachedRange.MISSED;
            }
        }
        for (int i = 0; misses > 0 && i < count; i++) {
            if (range.segment[i] == CachedRange.MISSED && !lookUp(volume, first + i, epoch, range, i)) {
                return false;
            }
        }
        LogRun run = pointers.newRun(out);
        try {
            for (int i = 0; i < count; i++) {
                int at = outPos + (i << blockShift);
                if (range.segment[i] == CachedRange.ZEROES) {
                    geometry.zero(out, at, blockSize);
                    continue;
                }
                run.add(range.segment[i], range.position[i], at, range.crc[i], range.previousCrc[i], false);
            }
            run.read();
            if (Defragmenter.isScattered(count, run.reads)) {
                defragmenter.request(volume.id, epoch, first, last);
            }
            return true;
        } catch (ChecksumMismatch e) {
            for (long block = first; block <= last; block++) {
                pointerCache.clear(volume.id, block);
            }
            return false;
        }
    }

    /**
     * Looks up a block's version in the head epoch into entry {@code i} of {@code range}: its
     * pointer and CRCs, or {@link CachedRange#ZEROES} for a marker. False when it has none in
     * that epoch.
     */
    private boolean lookUp(Volume volume, long block, long epoch, CachedRange range, int i) {
        ByteBuffer value = range.value.clear();
        int size;
        try {
            size = versionAt(volume, block, epoch, value);
        } catch (RocksDBException e) {
            throw rocks.failure("reading block " + block + " of " + volume.name, e);
        }
        if (size == BlockValue.MARKER_LENGTH) {
            range.segment[i] = CachedRange.ZEROES;
            return true;
        }
        if (!BlockPointer.isPointer(size)) {
            return false; // none: the walk reads it
        }
        long crcs = pointers.crcs(value, 0, size);
        range.segment[i] = BlockPointer.segment(value, 0);
        range.position[i] = BlockPointer.position(value, 0);
        range.crc[i] = (int) (crcs >>> 32);
        range.previousCrc[i] = (int) crcs;
        return true;
    }

    /**
     * One whole block of the head ({@code epoch}: the head epoch when the read began) by a point
     * lookup of its version in that epoch, cheaper than an iterator's create, seek and close.
     * The pointer comes from the {@link PointerCache} when it has it; otherwise the lookup runs
     * under the block's stripe lock when that is free at once, finds the newest older version
     * when the head epoch has none, and puts the pointer into the cache under the head epoch (if
     * it still is the head). False when the block has no version of its own at or below the head,
     * or has none in the head epoch and the lock was busy: the caller then walks the versions.
     * Needs a direct {@code out}, as RocksDB's lookup does. Under the value log's read lock.
     */
    boolean readBlock(Volume volume, long epoch, long block, ByteBuffer out, int at) {
        PointerCache.Hit hit = cacheHits.get();
        if (pointerCache.get(volume.id, block, epoch, hit)) {
            ByteBuffer into = out.slice(at, blockSize);
            valueLog.read(hit.segment, hit.position, into);
            int actual = Checksums.crc32c(Checksums.threadCrc(), into.flip());
            if (actual == hit.crc || actual == hit.previousCrc) {
                return true;
            }
            // a race with an overwrite in place, or damage: the lookup below decides
            pointerCache.clear(volume.id, block);
        }
        ByteBuffer value = out.slice(at, blockSize);
        ReentrantLock stripe = stripes.of(volume, block);
        boolean locked = stripe.tryLock();
        int size;
        long crcs = 0;
        try {
            size = versionAt(volume, block, epoch, value);
            if (size == RocksDB.NOT_FOUND && locked) {
                size = olderVersion(volume, block, epoch, value);
            }
            if (BlockPointer.isPointer(size)) {
                crcs = pointers.crcs(value, 0, size);
                if (locked && volume.headEpoch == epoch) {
                    pointerCache.put(volume.id, block, epoch, BlockPointer.segment(value, 0),
                            BlockPointer.position(value, 0), (int) (crcs >>> 32), (int) crcs);
                }
            }
        } catch (RocksDBException e) {
            throw rocks.failure("reading block " + block + " of " + volume.name, e);
        } finally {
            if (locked) {
                stripe.unlock();
            }
        }
        if (size == RocksDB.NOT_FOUND) {
            return false;
        }
        if (size == BlockValue.MARKER_LENGTH) {
            geometry.zero(out, at, blockSize);
        } else if (BlockPointer.isPointer(size)) {
            try {
                pointers.readPointed(out, at, value.clear(), crcs, BlockPointer.inTable(size));
            } catch (ChecksumMismatch e) {
                pointerCache.clear(volume.id, block);
                throw e;
            }
        } else {
            throw geometry.corruptValue(size);
        }
        return true;
    }

    /**
     * The value of the newest version of {@code block} older than {@code epoch}, into
     * {@code value}: its size, or {@link RocksDB#NOT_FOUND} when the block has none (a clone's
     * read then falls through to the parent). For a block not written since the last cut, whose
     * pointer the caller then caches under the head epoch: the head sees that version until a
     * write gives the block a newer one, and every write clears the block's slot.
     */
    private int olderVersion(Volume volume, long block, long epoch, ByteBuffer value) {
        try (RegionCursor cursor = new RegionCursor(rocks.db.newIterator(rocks.blocks, rocks.readOptions),
                blockShift)) {
            RegionRecord region = cursor.resolve(volume.id, RegionRecord.region(block), epoch);
            int slot = RegionRecord.slot(block);
            if (!region.has(slot)) {
                return RocksDB.NOT_FOUND;
            }
            ByteBuffer found = region.value(slot);
            value.put(0, found, 0, found.remaining());
            return found.remaining();
        }
    }

    /** Per thread: the pointers a read found in the cache, grown to the longest read. */
    private static final class CachedRange {
        /** A block the cache missed, to be looked up. */
        static final int MISSED = -1;
        /** A block that reads as zeros (a marker). */
        static final int ZEROES = -2;
        final ByteBuffer value = ByteBuffer.allocateDirect(BlockPointer.OVERWRITTEN_LENGTH);
        int[] segment = new int[0];
        long[] position = new long[0];
        int[] crc = new int[0];
        int[] previousCrc = new int[0];

        /** Whether block {@code i} lies right after block {@code i - 1} in the same segment. */
        boolean follows(int i, int blockSize) {
            return segment[i] == segment[i - 1] && position[i] == position[i - 1] + blockSize;
        }

        void set(int i, PointerCache.Hit hit) {
            segment[i] = hit.segment;
            position[i] = hit.position;
            crc[i] = hit.crc;
            previousCrc[i] = hit.previousCrc;
        }

        CachedRange ensure(int count) {
            if (segment.length < count) {
                segment = new int[count];
                position = new long[count];
                crc = new int[count];
                previousCrc = new int[count];
            }
            return this;
        }
    }
}

package cgw.store;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Lock;

/**
 * Writes that never wait, for a thread that must not block (an NBD event loop): the steady state
 * of a sequential rewrite, where a write is nothing but copies into the page cache. Whole
 * {@link PointerCache#RUN_BLOCKS}-block groups of data overwrite in place the runs a previous write
 * of them left, with their CRC table slots in the page cache and written by this session, no lock
 * held by anyone else, and room for dirty pages ({@link WriteBackRoom}). Anything else is
 * declined, with nothing changed, for the caller to write on a thread that may wait.
 *
 * <p>Threads: any; only tries locks. Overwrites allocate nothing, so no free space is checked.
 */
final class NoWaitWriter {
    private final InPlaceOverwrites overwrites;
    private final BlockWriter writer;
    private final ValueLog valueLog;
    private final PointerCache pointerCache;
    private final StripeLocks stripes;
    private final BlockGeometry geometry;
    private final int blockSize;
    private final int blockShift;
    /** Whether writes may overwrite in place at all. */
    private final boolean overwriteInPlace;
    /** Whether a write may dirty pages now; replaced only by tests. */
    private volatile WriteBackRoom writeBackRoom = WriteBackRoom.ofThisMachine();
    private final LongAdder writes = new LongAdder();

    NoWaitWriter(InPlaceOverwrites overwrites, BlockWriter writer, ValueLog valueLog, PointerCache pointerCache,
            StripeLocks stripes, BlockGeometry geometry, boolean overwriteInPlace) {
        this.overwrites = overwrites;
        this.writer = writer;
        this.valueLog = valueLog;
        this.pointerCache = pointerCache;
        this.stripes = stripes;
        this.geometry = geometry;
        this.blockSize = geometry.blockSize;
        this.blockShift = geometry.blockShift;
        this.overwriteInPlace = overwriteInPlace;
    }

    /** Whether a write of {@code length} bytes at {@code offset} from {@code src} is of a shape this may do. */
    boolean fits(long offset, int length, ByteBuffer src) {
        int groupBytes = PointerCache.RUN_BLOCKS << blockShift;
        return overwriteInPlace && length != 0 && length <= BlockStore.MAX_BATCH_BLOCKS << blockShift && src.isDirect()
                && offset % groupBytes == 0 && length % groupBytes == 0 && writeBackRoom.hasRoom(length);
    }

    /** {@link BlockStore#writeNoWait} of a write that {@link #fits}. */
    boolean write(Volume volume, long epoch, long offset, ByteBuffer src) {
        int length = src.remaining();
        Lock head = volume.headLock.readLock();
        if (!head.tryLock()) {
            return false;
        }
        try {
            if (volume.deleted || offset < 0 || offset > volume.sizeBytes - length
                    || (epoch != BlockStore.HEAD && epoch != volume.headEpoch)) {
                return false;
            }
            return overwrite(volume, volume.headEpoch, offset >>> blockShift, length >>> blockShift, src.slice());
        } finally {
            head.unlock();
        }
    }

    void useWriteBackRoom(WriteBackRoom room) {
        this.writeBackRoom = room;
    }

    /** Writes done rather than declined. */
    long writes() {
        return writes.sum();
    }

    /**
     * {@link #write} of {@code count} blocks from {@code first}, under the head lock: the steps
     * of {@link BlockWriter}'s log writes for a batch that is all overwrites of known runs (CRCs,
     * current CRCs from the table, table slots, bytes; no pointer changes), after every check that
     * may refuse it and before anything is changed.
     */
    private boolean overwrite(Volume volume, long epoch, long first, int count, ByteBuffer src) {
        WriteContext context = writer.context();
        listBlocks(context.blocks, first, count);
        int[] locked = stripes.tryLock(volume, first, first + count - 1);
        if (locked == null) {
            return false;
        }
        // held through the writes too: their own read lock on the value log is then taken
        // reentrantly, which never waits behind a segment removal queued meanwhile
        Lock permit = valueLog.overwritePermit();
        if (!permit.tryLock()) {
            stripes.unlock(locked);
            return false;
        }
        Lock removal = valueLog.readLock();
        if (!removal.tryLock()) {
            permit.unlock();
            stripes.unlock(locked);
            return false;
        }
        boolean changing = false;
        boolean written = false;
        try {
            if (!overwrites.knownRuns(context, volume, epoch, count)
                    || overwrites.assignSlots(context, count, overwrites.minRunBlocks(),
                            OverwriteFence.Marking.RECORDED) < count) {
                return false;
            }
            if (!newCrcs(context, src, count) || !overwrites.currentCrcsNoWait(context, count)) {
                return false;
            }
            changing = true;
            try {
                overwrites.writeTables(context, count);
                overwrites.overwrite(context, src, count);
            } catch (StoreException e) {
                overwrites.forgetSession(context, count, e);
                throw e;
            }
            written = true;
            writes.increment();
            overwrites.countChosen(context);
            return true;
        } finally {
            if (changing) {
                pointerCache.clear(volume.id, first, first + count - 1);
            }
            if (written) {
                writer.cacheWritten(context, volume, epoch, count, null);
                overwrites.rememberRuns(context, volume, epoch, count, first, first + count - 1);
            }
            removal.unlock();
            permit.unlock();
            stripes.unlock(locked);
        }
    }

    /** {@code blocks[0..count)} = {@code first}, {@code first + 1}, ...; a method of its own, see {@link #newCrcs}. */
    private static void listBlocks(long[] blocks, long first, int count) {
        for (int i = 0; i < count; i++) {
            blocks[i] = first + i;
        }
    }

    /**
     * Lists the CRC and place in {@code src} of each of the {@code count} blocks in {@code context};
     * false when one is all zeros (it becomes a ZERO marker, which goes to RocksDB). Its own
     * method, as each loop of the write path is: a hot loop makes C2 compile its method on stack
     * replacement and then again whole, and the whole {@link #overwrite} is large.
     */
    private boolean newCrcs(WriteContext context, ByteBuffer src, int count) {
        for (int i = 0; i < count; i++) {
            int at = i << blockShift;
            int crc = context.crc32c(src, at, blockSize);
            if (crc == geometry.zeroBlockCrc && src.slice(at, blockSize).mismatch(geometry.zeroBlock) == -1) {
                return false;
            }
            context.newCrc[i] = crc;
            context.sourceIndex[i] = at;
        }
        return true;
    }
}

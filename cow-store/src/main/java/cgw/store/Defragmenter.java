package cgw.store;

import cgw.host.NamedThreads;
import cgw.store.key.BlockPointer;
import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lays scattered ranges of volumes out in block order again. The value log keeps blocks in the
 * order they were written, so a volume written randomly in small blocks reads back sequentially
 * at a {@code pread} per block where an in-place file needs one per request. When a long read
 * finds its blocks scattered ({@link #isScattered}), it asks for its range here; a background
 * thread copies the versions that read saw to the active segment in block order and swaps their
 * pointers ({@link LogMover}, as the cleaner moves live blocks), so the next read of the range is
 * one {@code pread}. The old copies become garbage for the cleaner.
 *
 * <p>Versions of any epoch move (after a cut, the head reads the sealed epoch's blocks until they
 * are rewritten), but only those whose pointer holds its own CRCs (appended blocks, which is what
 * random writes leave): a pointer to a segment's CRC table does not change when its bytes are
 * overwritten in place, so a swap could not see such a write; those lie in runs of at least
 * 64 KiB anyway. Copies are made without the collector's lock and swapped in batches of up to
 * {@link #SWAP_BLOCKS} after one sync: versions of the head epoch at once (the collector never
 * deletes those), others only if the collector's lock is free at once (else their copies stay
 * garbage); nothing is copied while the store's file system is short
 * of its write reserve. A request that finds the queue full, the head cut since the read or its
 * range laid out well is dropped: the next scattered read of the range asks again.
 *
 * <p>Threads: readers call {@link #request} (never blocks); the work runs on the defragmenter's
 * own daemon thread, or on the caller of {@link #runPending} (tests), one at a time (the monitor).
 */
final class Defragmenter {
    private static final Logger log = LoggerFactory.getLogger(Defragmenter.class);
    /** Ranges waiting; a sequential read at queue depth 8 asks for one per request. */
    private static final int QUEUE_RANGES = 64;
    /**
     * Blocks copied before their pointers are swapped: the copies are synced first, one sync for
     * all of them (32 MiB of 4 KiB blocks), since a sync per request would pace the thread.
     */
    static final int SWAP_BLOCKS = 8192;
    /** Reads shorter than this are not worth a request (a 256 KiB group and more). */
    static final int MIN_BLOCKS = 64;
    /** Scattered: more than one break in the log per this many blocks (runs under 64 KiB on average). */
    static final int BLOCKS_PER_BREAK = 16;

    /** The blocks {@code [first, last]} of a volume as a read at {@code epoch} saw them. */
    record Request(long volumeId, long epoch, long first, long last) {
    }

    private static final Request STOP = new Request(-1, 0, 0, -1);

    private final LogMover mover;
    private final Catalog catalog;
    private final Rocks rocks;
    private final ValueLog valueLog;
    private final SpaceGuard spaceGuard;
    private final InFlightCalls calls;
    private final Lock collectorLock;
    private final Durability durability;
    private final int blockSize;
    private final int blockShift;
    private final ArrayBlockingQueue<Request> queue = new ArrayBlockingQueue<>(QUEUE_RANGES);
    private final AtomicLong movedBlocks = new AtomicLong();
    private final Object lifecycle = new Object();
    private volatile boolean stopping;
    private @Nullable Thread thread; // guarded by lifecycle

    Defragmenter(LogMover mover, Catalog catalog, Rocks rocks, ValueLog valueLog, SpaceGuard spaceGuard,
            InFlightCalls calls, Lock collectorLock, Durability durability, BlockGeometry geometry) {
        this.durability = durability;
        this.mover = mover;
        this.catalog = catalog;
        this.rocks = rocks;
        this.valueLog = valueLog;
        this.spaceGuard = spaceGuard;
        this.calls = calls;
        this.collectorLock = collectorLock;
        this.blockSize = geometry.blockSize;
        this.blockShift = geometry.blockShift;
    }

    /** Whether {@code blocks} read as {@code reads} separate runs are worth laying out again. */
    static boolean isScattered(int blocks, int reads) {
        return blocks >= MIN_BLOCKS && (long) reads * BLOCKS_PER_BREAK > blocks;
    }

    /** Whether {@code blocks} that lie in {@code runs} separate runs are worth moving into one. */
    static boolean worthMoving(int blocks, int runs) {
        return blocks >= BLOCKS_PER_BREAK && (long) runs * BLOCKS_PER_BREAK > blocks;
    }

    /**
     * Asks for a range to be laid out again; dropped when too many are waiting, or once a sync of
     * the store failed (moving blocks writes and relocates).
     */
    void request(long volumeId, long epoch, long first, long last) {
        if (!durability.failed()) {
            queue.offer(new Request(volumeId, epoch, first, last));
        }
    }

    /** Blocks moved since the store was opened. */
    long movedBlocks() {
        return movedBlocks.get();
    }

    void start() {
        synchronized (lifecycle) {
            thread = NamedThreads.thread("cgw-store-defrag", true, this::run);
            thread.start();
        }
    }

    /**
     * Stops the thread and waits for it; idempotent. Never by an interrupt: one landing in a
     * file channel's read or write would close the channel, a segment every thread uses.
     */
    void stop() {
        synchronized (lifecycle) { // not the monitor, which the thread takes to finish
            stopping = true;
            if (thread != null) {
                queue.clear();
                queue.offer(STOP); // else the poll's timeout sees stopping
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                thread = null;
            }
        }
    }

    /** Runs every waiting request on the calling thread; returns the blocks moved. */
    synchronized long runPending() {
        long moved = 0;
        for (Request request = queue.poll(); request != null; request = queue.poll()) {
            moved += run(request);
        }
        return moved + swap();
    }

    private void run() {
        try {
            serve();
        } finally {
            synchronized (this) {
                mover.abandon(); // copies not swapped yet stay garbage; their reservations end
            }
        }
    }

    private void serve() {
        while (!stopping) {
            Request request;
            try {
                request = queue.poll(1, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            if (request == null || request == STOP) {
                continue;
            }
            try {
                synchronized (this) { // the mover is one thread's at a time
                    run(request);
                    if (queue.isEmpty()) {
                        swap();
                    }
                }
            } catch (RuntimeException e) {
                if (stopping) {
                    return;
                }
                log.warn("defragmenting blocks {}-{} of volume id {} failed", request.first, request.last,
                        request.volumeId, e);
            }
        }
    }

    /** Copies the request's blocks; swaps what was copied once {@link #SWAP_BLOCKS} wait. Returns the blocks moved. */
    private long run(Request request) {
        long copied = copy(request);
        if (copied > 0) {
            log.debug("copied {} blocks of {}-{} of volume id {}", copied, request.first, request.last,
                    request.volumeId);
        }
        return mover.copiedBlocks() >= SWAP_BLOCKS ? swap() : 0;
    }

    /**
     * Swaps the pointers of what was copied (see {@link LogMover#swap}): those of the head epoch
     * at once, the others under the collector's lock if it is free (a collector pass or cleaner
     * round holds it for long; their copies are then left as garbage). Returns how many moved.
     */
    private long swap() {
        calls.enter();
        try {
            long moved = mover.swap(collectorLock);
            movedBlocks.addAndGet(moved);
            return moved;
        } finally {
            calls.exit();
        }
    }

    /**
     * Lays the blocks of a request out in block order: copies the versions a read of the head
     * sees there (those whose pointer holds its own CRCs, of whatever epoch) to the active
     * segment, for {@link #swap} to swap their pointers where they did not change meanwhile.
     * Nothing when the store is short of space or the blocks are not scattered any more. Returns
     * the blocks copied.
     */
    private long copy(Request request) {
        Volume volume = catalog.byId(request.volumeId());
        if (volume == null || volume.deleted || volume.headEpoch != request.epoch()) {
            return 0;
        }
        calls.enter();
        try {
            return copyHead(volume, request);
        } catch (RuntimeException e) {
            mover.clear();
            throw e;
        } finally {
            calls.exit();
        }
    }

    private long copyHead(Volume volume, Request request) {
        long copied = 0;
        // as a read: from the iterator's creation until the bytes are copied, the cleaner removes
        // no segment (the iterator's view could show a pointer into one removed before it)
        valueLog.readLock().lock();
        try (RegionCursor cursor = new RegionCursor(rocks.db.newIterator(rocks.blocks, rocks.readOptions),
                blockShift)) {
            // a batch's worth of blocks at a time, each judged on its own
            for (long first = request.first(); first <= request.last(); first += LogMover.BATCH_BLOCKS) {
                long last = Math.min(request.last(), first + LogMover.BATCH_BLOCKS - 1);
                int runs = collectPointers(volume, request.epoch(), first, last, cursor);
                int count = mover.count();
                if (worthMoving(count, runs) && spaceGuard.tryAdmit((long) count << blockShift)) {
                    mover.copy();
                    copied += count;
                } else {
                    mover.clear();
                }
            }
        } finally {
            valueLog.readLock().unlock();
        }
        return copied;
    }

    /**
     * Adds the versions a read at {@code epoch} sees of blocks {@code [first, last]} whose pointers
     * hold their own CRCs to the mover; returns in how many runs they lie in the log.
     */
    private int collectPointers(Volume volume, long epoch, long first, long last, RegionCursor cursor) {
        int runs = 0;
        int previousSegment = -1;
        long previousPosition = 0;
        for (long block = first; block <= last; block++) {
            long region = RegionRecord.region(block);
            RegionRecord record = cursor.resolve(volume.id, region, epoch);
            int slot = RegionRecord.slot(block);
            if (!record.has(slot)) {
                continue;
            }
            ByteBuffer pointer = record.value(slot);
            int size = pointer.remaining();
            if (!BlockPointer.isPointer(size) || BlockPointer.inTable(size)) {
                continue;
            }
            int segment = BlockPointer.segment(pointer, 0);
            long position = BlockPointer.position(pointer, 0);
            runs += segment == previousSegment && position == previousPosition + blockSize ? 0 : 1;
            previousSegment = segment;
            previousPosition = position;
            byte[] value = new byte[size];
            pointer.get(0, value);
            mover.add(RegionKey.encode(volume.id, region, cursor.epochOf(slot)), slot, value);
        }
        return runs;
    }
}

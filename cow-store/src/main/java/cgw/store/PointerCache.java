package cgw.store;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.jspecify.annotations.Nullable;

/**
 * The value-log pointers of recently read or written head-epoch block versions, so that a 4 KiB
 * read of a hot block (and a long read of cached blocks) skips RocksDB (a JNI call and a lookup
 * through memtables, filters, indexes and a data block). A
 * mirror of exact RocksDB entries: slot {@code (volume, block, epoch)} holds the value of key
 * {@code volume block ~epoch} and nothing else. Lossy: a block may be in one of the four slots of
 * its bucket (never in two, since puts of one block are serialised by its stripe lock and reuse
 * its slot), a full bucket evicts one entry, and a slot being changed by another thread reads as a
 * miss.
 *
 * <p>An entry is never stale because it is put and cleared only under the block's stripe lock,
 * around committed batches; the rules, and why a slot keeps only the low 32 bits of its epoch,
 * are in docs/store.md ("The pointer cache"). A hit is still checked against the block's CRC
 * like any read.
 *
 * <p>Beside the slots it keeps {@link Run}s: where a whole group of blocks overwritten in place
 * lies, for the next write of the group, under the same rules (put under the stripe locks, cleared
 * by every change).
 *
 * <p>Threads: any. Each slot is a seqlock: writers (put and clear) take it with a CAS and give up
 * when another writer has it, readers validate its stamp around their reads and miss when it
 * moved.
 */
final class PointerCache {
    /**
     * Longs per slot (32 bytes): the seqlock stamp (high half) and the epoch's low 32 bits (low
     * half, {@link #EMPTY} for none); volume and block; segment and position; CRC and previous CRC.
     */
    private static final int SLOT_LONGS = 4;
    private static final long STAMP_ONE = 1L << 32;
    private static final long STAMP_ODD = STAMP_ONE;
    private static final long STAMP_MASK = 0xFFFF_FFFF_0000_0000L;
    /** The epoch bits of an empty slot; an epoch whose low 32 bits are 0 is not cached. */
    private static final int EMPTY = 0;
    /** Slots a key may be in: a bucket of four, so that two hot blocks rarely evict each other. */
    private static final int WAYS = 4;
    /** Blocks per group of a {@link Run}: 256 KiB of 4 KiB blocks. */
    static final int RUN_BLOCKS = 64;
    /**
     * Block slots per run entry: with 2 Mi slots, 256 Ki run entries (1 MiB of references), a
     * place for each group of 64 GiB of volumes. A direct-mapped table, in which a volume's groups
     * take consecutive entries: those of a volume of up to 64 GiB never evict each other.
     */
    private static final int RUNS_PER_SLOT = 8;
    static final int SLOT_BYTES = SLOT_LONGS * Long.BYTES;
    private static final int MIN_SLOTS = 1 << 10;
    /** 128 MiB of heap, the pointers of 16 GiB of 4 KiB blocks at one per slot. */
    private static final int MAX_SLOTS = 1 << 22;
    private static final int MAX_VOLUME_ID_BITS = 25;
    private static final int BLOCK_BITS = 38;
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);

    private final long[] slots;
    private final int mask;
    /** Runs known to be overwritten in place, one per group of {@link #RUN_BLOCKS} blocks (see {@link #run}). */
    private final AtomicReferenceArray<Run> runs;

    /**
     * Slots for a store: half of the cache budget that memtables do not take, rounded down to a
     * power of two. The default 256 MiB, 96 of them for memtables, gives 2 Mi slots in 64 MiB,
     * which hold the pointers of a 2 GiB volume's blocks with few collisions (its 512 Ki blocks
     * fill a quarter of the slots, one block per bucket of four on average). RocksDB's block
     * cache gets the rest, so the budget holds both.
     */
    static int slotsFor(StoreOptions options) {
        long slots = (options.cacheBytes() - options.memtableBytes()) / 2 / SLOT_BYTES;
        return Integer.highestOneBit((int) Math.max(MIN_SLOTS, Math.min(MAX_SLOTS, slots)));
    }

    static long bytesOf(int slots) {
        return (long) slots * SLOT_BYTES;
    }

    /** A cache of {@code slots} entries (a power of two), {@value #SLOT_LONGS} longs each. */
    PointerCache(int slotCount) {
        if (Integer.bitCount(slotCount) != 1) {
            throw new IllegalArgumentException("slot count must be a power of two, got " + slotCount);
        }
        if (slotCount < WAYS) {
            throw new IllegalArgumentException("need at least " + WAYS + " slots, got " + slotCount);
        }
        this.slots = new long[slotCount * SLOT_LONGS];
        this.mask = slotCount - 1;
        this.runs = new AtomicReferenceArray<>(Math.max(1, slotCount / RUNS_PER_SLOT));
    }

    /** The pointer found by {@link #get}: where the block is and the CRCs it may have. */
    static final class Hit {
        int segment;
        long position;
        int crc;
        int previousCrc;
    }

    /** Whether {@code (volume, block)} can have a slot: ids and blocks that fit its packed key. */
    private static boolean cacheable(long volumeId, long block) {
        return volumeId >= 0 && volumeId < (1L << MAX_VOLUME_ID_BITS) && block >= 0 && block < (1L << BLOCK_BITS);
    }

    private static long key(long volumeId, long block) {
        return volumeId << BLOCK_BITS | block;
    }

    /**
     * The first slot of the block's bucket of {@link #WAYS} slots: the volume's blocks take
     * consecutive buckets from a place its id's hash picks. A volume of up to a quarter of the
     * slots' blocks then has a bucket per block, with no two of its blocks in one (a hash per block
     * or per run of blocks put one in a hundred of a 2 GiB volume's blocks into full buckets, and
     * a long read looked each of those up in RocksDB on every pass); four such volumes fill every
     * way. A large write's clears walk memory in order.
     */
    private int bucket(long volumeId, long block) {
        return (int) (placeOf(volumeId) + block) * WAYS & mask;
    }

    /** Where a volume's first block (and group of a {@link Run}) goes: its id, hashed. */
    private static long placeOf(long volumeId) {
        long mixed = (volumeId + 1) * 0x9E3779B97F4A7C15L;
        return mixed >>> 32 ^ mixed;
    }

    /** Fills {@code hit} and returns true when a slot holds {@code (volume, block, epoch)} (its epoch's low bits). */
    boolean get(long volumeId, long block, long epoch, Hit hit) {
        if (!cacheable(volumeId, block)) {
            return false;
        }
        long key = key(volumeId, block);
        int first = bucket(volumeId, block);
        int epochBits = (int) epoch;
        for (int way = 0; way < WAYS; way++) {
            int at = (first + way) * SLOT_LONGS;
            long head = (long) LONGS.getAcquire(slots, at);
            if ((head & STAMP_ODD) != 0 || (int) head != epochBits || slots[at + 1] != key) {
                continue;
            }
            long location = slots[at + 2];
            long crcs = slots[at + 3];
            VarHandle.loadLoadFence();
            if ((long) LONGS.getOpaque(slots, at) != head || slots[at + 1] != key) {
                return false;
            }
            hit.segment = (int) (location >>> 32);
            hit.position = location & 0xFFFF_FFFFL;
            hit.crc = (int) (crcs >>> 32);
            hit.previousCrc = (int) crcs;
            return true;
        }
        return false;
    }

    /**
     * Remembers the pointer of version {@code (volume, block, epoch)}, read from RocksDB while the
     * caller held the block's stripe lock, which it still holds. Pointers past what a slot packs
     * (segments past 2^31, positions past 4 GiB) are not remembered.
     */
    void put(long volumeId, long block, long epoch, int segment, long position, int crc, int previousCrc) {
        if (!cacheable(volumeId, block) || segment < 0 || position < 0 || position > 0xFFFF_FFFFL
                || (int) epoch == EMPTY) {
            return;
        }
        long key = key(volumeId, block);
        int first = bucket(volumeId, block);
        // this block's slot if it has one, else an empty one, else the way its block number picks
        int victim = first + (int) ((block ^ block >>> 7) & (WAYS - 1));
        for (int way = 0; way < WAYS; way++) {
            int slot = first + way;
            if (slots[slot * SLOT_LONGS + 1] == key) {
                victim = slot;
                break;
            }
            if ((int) slots[slot * SLOT_LONGS] == EMPTY) {
                victim = slot;
            }
        }
        int at = victim * SLOT_LONGS;
        long head = (long) LONGS.getVolatile(slots, at);
        if ((head & STAMP_ODD) != 0 || !LONGS.compareAndSet(slots, at, head, head + STAMP_ONE)) {
            return;
        }
        slots[at + 1] = key;
        slots[at + 2] = (long) segment << 32 | position;
        slots[at + 3] = (long) crc << 32 | (previousCrc & 0xFFFF_FFFFL);
        LONGS.setRelease(slots, at, (head & STAMP_MASK) + 2 * STAMP_ONE | (epoch & 0xFFFF_FFFFL));
    }

    /**
     * Forgets whatever the cache holds for {@code block} of {@code volume}, at any epoch. Called
     * under the block's stripe lock after its version changed (or after a hit failed its CRC).
     * When another thread is changing the slot, it is putting or clearing a different block (a put
     * of this block needs its stripe lock), so the slot will not hold this block either way.
     */
    void clear(long volumeId, long block) {
        clearSlot(volumeId, block);
        clearRun(volumeId, block / RUN_BLOCKS);
    }

    private void clearSlot(long volumeId, long block) {
        if (!cacheable(volumeId, block)) {
            return;
        }
        long key = key(volumeId, block);
        int first = bucket(volumeId, block);
        for (int way = 0; way < WAYS; way++) {
            int at = (first + way) * SLOT_LONGS;
            long head = (long) LONGS.getVolatile(slots, at);
            if ((head & STAMP_ODD) != 0 || slots[at + 1] != key || (int) head == EMPTY) {
                continue;
            }
            if (LONGS.compareAndSet(slots, at, head, head + STAMP_ONE)) {
                LONGS.setRelease(slots, at, (head & STAMP_MASK) + 2 * STAMP_ONE | EMPTY);
            }
        }
    }

    /** {@link #clear} of blocks {@code [first, last]}. */
    void clear(long volumeId, long first, long last) {
        for (long block = first; block <= last; block++) {
            clearSlot(volumeId, block);
        }
        for (long group = first / RUN_BLOCKS; group <= last / RUN_BLOCKS; group++) {
            clearRun(volumeId, group);
        }
    }

    // ------------------------------------------------------------ runs

    /**
     * Where the blocks of group {@code group} ({@link #RUN_BLOCKS} blocks from
     * {@code group * RUN_BLOCKS}) of a volume are, when a write overwrote all of them in place
     * at {@code epoch} and none has changed since: back to back from {@code position} of
     * {@code segment}, with pointers that send readers to the segment's CRC table. A write of the
     * whole group at the same epoch may then overwrite it in place again without looking its
     * pointers up. Kept and cleared like the slots: put by a writer holding the stripe locks of
     * all its blocks, cleared by every change of one of them. Unlike a slot it keeps the whole
     * epoch, and means the version of exactly that epoch: an overwrite in place must never reach
     * a version a cut sealed.
     */
    record Run(long volumeId, long group, long epoch, int segment, long position) {
    }

    /** The run of {@code group} at exactly {@code epoch}, or null. */
    @Nullable
    Run run(long volumeId, long group, long epoch) {
        Run run = runs.get(runIndex(volumeId, group));
        return run != null && run.volumeId == volumeId && run.group == group && run.epoch == epoch ? run : null;
    }

    /** Remembers a run (see {@link Run}); the caller holds the stripe locks of all its blocks. */
    void putRun(Run run) {
        runs.set(runIndex(run.volumeId, run.group), run);
    }

    private void clearRun(long volumeId, long group) {
        int index = runIndex(volumeId, group);
        Run run = runs.get(index);
        if (run != null && run.volumeId == volumeId && run.group == group) {
            runs.compareAndSet(index, run, null);
        }
    }

    /** Like the slots, a volume's groups take consecutive entries (see {@link #bucket}). */
    private int runIndex(long volumeId, long group) {
        return (int) (placeOf(volumeId) + group) & runs.length() - 1;
    }
}

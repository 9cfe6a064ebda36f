package cgw.store;

import cgw.store.key.BlockPointer;
import cgw.store.key.CrcSlot;
import cgw.store.key.RegionKey;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Lock;
import org.jspecify.annotations.Nullable;

/**
 * Moves block versions to the active segment of the {@link ValueLog}: copies their bytes there in
 * the order they were added (batches of {@link #BATCH_BLOCKS}, each one write), makes the copies
 * durable (one sync for as many batches as the caller copied), and then swaps each version's
 * pointer to its copy, only where the pointer did not change meanwhile (a write that replaced it, or
 * overwrote it in place, wins). The value log's cleaner moves the live blocks out of its victims
 * with it, the defragmenter the blocks of a scattered range.
 *
 * <p>A pointer keeps its form and CRCs (the bytes are the same); one whose CRCs live in its
 * segment's table takes the long form, since the new segment has no slot for it. The copies are
 * synced before the new pointers are committed: those may reach the disk with the WAL at any time,
 * and the bytes they replace were durable, so a power loss must find the copies there too.
 *
 * <p>Threads: one at a time per instance (it owns its buffers). A version the collector deletes
 * must never come back: the cleaner swaps under the collector's lock (it holds it for its whole
 * round); the defragmenter swaps versions of the head epoch without it (the collector never
 * deletes those) and others only when it gets the lock at once. The bytes are read under
 * the value log's removal lock, so the cleaner removes no segment in the middle of a copy (a
 * pointer that led there has changed by then, and its swap does not happen).
 */
final class LogMover {
    static final int BATCH_BLOCKS = 256;

    private final Relocation relocation;
    private final ValueLog valueLog;
    private final int blockSize;
    private final int blockShift;
    private final byte[][] keys = new byte[BATCH_BLOCKS][];
    private final int[] slots = new int[BATCH_BLOCKS];
    private final byte[][] pointers = new byte[BATCH_BLOCKS][];
    private final List<byte[]> copiedKeys = new ArrayList<>();
    private final List<Integer> copiedSlots = new ArrayList<>();
    private final List<byte[]> copiedPointers = new ArrayList<>();
    private final List<byte[]> copiedReplacements = new ArrayList<>();
    private final List<ValueLog.Reservation> reservations = new ArrayList<>();
    private final ByteBuffer data;
    private int count;

    LogMover(Relocation relocation, ValueLog valueLog, int blockSize) {
        this.relocation = relocation;
        this.valueLog = valueLog;
        this.blockSize = blockSize;
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.data = ByteBuffer.allocateDirect(BATCH_BLOCKS * blockSize);
    }

    /**
     * Adds a version to move (the key of its region record, its slot there and its current
     * pointer); the caller moves a full batch first.
     */
    void add(byte[] key, int slot, byte[] pointer) {
        if (count == BATCH_BLOCKS) {
            throw new IllegalStateException("a full batch of " + BATCH_BLOCKS + " blocks; move it first");
        }
        keys[count] = key;
        slots[count] = slot;
        pointers[count] = pointer;
        count++;
    }

    int count() {
        return count;
    }

    boolean isFull() {
        return count == BATCH_BLOCKS;
    }

    /** Forgets the versions added since the last move. */
    void clear() {
        java.util.Arrays.fill(keys, 0, count, null);
        java.util.Arrays.fill(pointers, 0, count, null);
        count = 0;
    }

    /**
     * Moves the versions added since the last move; returns how many were swapped. The caller
     * holds the collector's lock.
     */
    long move() {
        copy();
        return swap(null);
    }

    /** Blocks copied and waiting for their {@link #swap}. */
    int copiedBlocks() {
        return copiedKeys.size();
    }

    /**
     * Copies the versions added since the last copy to the active segment (one reservation, one
     * write) and keeps them for the next {@link #swap}; the batch is empty after.
     */
    void copy() {
        int n = count;
        if (n == 0) {
            return;
        }
        try {
            valueLog.readLock().lock(); // the cleaner removes no segment meanwhile
            try {
                for (int i = 0; i < n; i++) {
                    ByteBuffer pointer = ByteBuffer.wrap(pointers[i]);
                    valueLog.read(BlockPointer.segment(pointer, 0), BlockPointer.position(pointer, 0),
                            data.slice(i << blockShift, blockSize));
                }
            } finally {
                valueLog.readLock().unlock();
            }
            ValueLog.Reservation reservation = valueLog.reserve(n << blockShift);
            reservations.add(reservation);
            reservation.write(0, data.slice(0, n << blockShift));
            for (int i = 0; i < n; i++) {
                long position = reservation.position() + ((long) i << blockShift);
                copiedKeys.add(keys[i]);
                copiedSlots.add(slots[i]);
                copiedPointers.add(pointers[i]);
                copiedReplacements.add(BlockPointer.inTable(pointers[i].length)
                        || overwrittenBeforeItsPointer(pointers[i], data.slice(i << blockShift, blockSize))
                                ? fromTable(pointers[i], reservation.segment(), position)
                                : BlockPointer.moved(pointers[i], reservation.segment(), position));
            }
        } catch (RuntimeException e) {
            abandon();
            throw e;
        } finally {
            clear();
        }
    }

    /**
     * Makes the copies durable (one sync per segment they are in) and then swaps the pointers of
     * those whose versions did not change meanwhile; returns how many were swapped. With
     * {@code collectorLock} null the caller holds the collector's lock; else versions of the head
     * epoch are swapped without it and the others only if it is free at once.
     */
    long swap(@Nullable Lock collectorLock) {
        if (reservations.isEmpty()) {
            return 0;
        }
        try {
            java.util.Set<Integer> synced = new java.util.HashSet<>();
            for (ValueLog.Reservation reservation : reservations) {
                if (synced.add(reservation.segment())) {
                    reservation.force();
                }
            }
            // each was written before its segment's force: relocations never make a flush sync the log
            reservations.forEach(ValueLog.Reservation::madeDurable);
            byte[][] keys = copiedKeys.toArray(new byte[0][]);
            int[] slots = copiedSlots.stream().mapToInt(Integer::intValue).toArray();
            byte[][] expected = copiedPointers.toArray(new byte[0][]);
            byte[][] replacement = copiedReplacements.toArray(new byte[0][]);
            boolean[] done = new boolean[keys.length];
            long moved = replace(keys, slots, expected, replacement, done, keys.length, collectorLock != null);
            if (collectorLock != null && moved < keys.length && collectorLock.tryLock()) {
                try {
                    int left = 0;
                    for (int i = 0; i < keys.length; i++) {
                        if (!done[i]) {
                            keys[left] = keys[i];
                            slots[left] = slots[i];
                            expected[left] = expected[i];
                            replacement[left] = replacement[i];
                            left++;
                        }
                    }
                    moved += replace(keys, slots, expected, replacement, done, left, false);
                } finally {
                    collectorLock.unlock();
                }
            }
            return moved;
        } finally {
            abandon();
        }
    }

    /** {@link Relocation#replaceValues} of entries {@code [0, n)}, per volume, at most a batch under one set of stripe locks. */
    private long replace(byte[][] keys, int[] slots, byte[][] expected, byte[][] replacement, boolean[] done, int n,
            boolean headOnly) {
        long moved = 0;
        for (int from = 0; from < n;) {
            long volumeId = volumeOf(keys[from]);
            int to = from + 1;
            while (to < n && to - from < BATCH_BLOCKS && volumeOf(keys[to]) == volumeId) {
                to++;
            }
            moved += relocation.replaceValues(keys, slots, expected, replacement, done, from, to, headOnly);
            from = to;
        }
        return moved;
    }

    /** Ends the reservations of the copies and forgets them (their bytes become garbage unless swapped). */
    void abandon() {
        for (ValueLog.Reservation reservation : reservations) {
            reservation.finish();
        }
        reservations.clear();
        copiedKeys.clear();
        copiedSlots.clear();
        copiedPointers.clear();
        copiedReplacements.clear();
    }

    /**
     * The long form of a pointer that keeps its CRCs in its segment's table, leading to a copy of
     * its bytes: the new segment has no table slot for it. Overwrites stay out of segments being
     * cleaned, so the slot is what it was when the bytes were copied.
     */
    private byte[] fromTable(byte[] pointer, int segment, long position) {
        ByteBuffer old = ByteBuffer.wrap(pointer);
        ByteBuffer slot = ByteBuffer.allocate(CrcSlot.LENGTH);
        valueLog.readTable(BlockPointer.segment(old, 0), BlockPointer.position(old, 0) >>> blockShift, slot);
        ByteBuffer moved = ByteBuffer.allocate(BlockPointer.OVERWRITTEN_LENGTH);
        BlockPointer.encodeOverwritten(moved, segment, position, CrcSlot.crc(slot, 0), CrcSlot.previousCrc(slot, 0),
                CrcSlot.session(slot, 0));
        return moved.array();
    }

    /**
     * Whether a block whose pointer carries its own CRCs holds bytes of neither but of an
     * overwrite its table slot names (a crash between the overwrite's bytes and its pointer:
     * {@link PointerReads#overwrittenTo}): its copy then takes the slot's CRCs.
     */
    private boolean overwrittenBeforeItsPointer(byte[] pointer, ByteBuffer copied) {
        ByteBuffer old = ByteBuffer.wrap(pointer);
        int actual = Checksums.crc32c(Checksums.threadCrc(), copied.duplicate());
        return actual != BlockPointer.crc(old, 0) && actual != BlockPointer.previousCrc(old, 0, pointer.length)
                && relocation.pointers().overwrittenTo(BlockPointer.segment(old, 0), BlockPointer.position(old, 0),
                        actual);
    }

    private static long volumeOf(byte[] key) {
        return RegionKey.volumeId(ByteBuffer.wrap(key));
    }
}

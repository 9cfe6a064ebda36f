package cgw.store.key;

import java.nio.ByteBuffer;

/**
 * The versions of the blocks of one aligned region of {@link #SLOTS} blocks at one epoch: the
 * value of a region record in the {@code regions} column family (store format 2). Each present slot
 * holds what a block version held before: a {@link BlockValue} marker or a {@link BlockPointer}
 * (any form). An absent slot has no version at this epoch: a read falls through to older epochs,
 * as it did for a block without a version.
 *
 * <pre>
 *   0            2        3
 *   +------------+--------+---------------------------------------------------------------+
 *   | mask (u16) | form   | body                                                          |
 *   +------------+--------+---------------------------------------------------------------+
 *   form SLOTS (0): per present slot, in slot order:  length (u8) | value (length bytes)
 *   form RUN   (1): segment (u32) | position (u64) | crc32c (u32) per present slot
 * </pre>
 *
 * Bit {@code i} of the mask is slot {@code i}, the block {@code region * SLOTS + i}. The run form
 * is the common case written compactly: every present slot a short-form pointer into one segment,
 * the k-th present slot's bytes at {@code position + k * blockSize} (blocks appended together):
 * 15 + 4n bytes instead of 3 + 17n.
 *
 * <p>A decoded record is mutable, for merging a write into the record already there; one per
 * thread. Not thread-safe.
 */
public final class RegionRecord {
    /** Blocks per region: the store's stripe locks guard aligned regions of this many blocks. */
    public static final int SLOTS = 16;
    public static final int SHIFT = 4;
    private static final int MASK_OFFSET = 0;
    private static final int FORM_OFFSET = 2;
    private static final int BODY_OFFSET = 3;
    private static final byte SLOTS_FORM = 0;
    private static final byte RUN_FORM = 1;
    private static final int RUN_HEADER = 12;
    /** The longest encoding: every slot a long-form pointer. */
    public static final int MAX_LENGTH = BODY_OFFSET + SLOTS * (1 + BlockPointer.OVERWRITTEN_LENGTH);

    private final int blockShift;
    private int mask;
    private final int[] lengths = new int[SLOTS];
    private final byte[][] values = new byte[SLOTS][BlockPointer.OVERWRITTEN_LENGTH];
    private final ByteBuffer[] views = new ByteBuffer[SLOTS];

    public RegionRecord(int blockShift) {
        this.blockShift = blockShift;
        for (int i = 0; i < SLOTS; i++) {
            views[i] = ByteBuffer.wrap(values[i]);
        }
    }

    public static long region(long block) {
        return block >>> SHIFT;
    }

    public static int slot(long block) {
        return (int) block & (SLOTS - 1);
    }

    public void clear() {
        mask = 0;
    }

    public int mask() {
        return mask;
    }

    public boolean isEmpty() {
        return mask == 0;
    }

    public boolean has(int slot) {
        return (mask & (1 << slot)) != 0;
    }

    /** The length of the slot's value: 1 for a marker, a {@link BlockPointer} length otherwise. */
    public int length(int slot) {
        checkPresent(slot);
        return lengths[slot];
    }

    /**
     * The slot's value (a marker or a pointer) as a buffer from 0 to its length; valid until the
     * slot changes. Read it with the {@link BlockPointer} accessors at index 0.
     */
    public ByteBuffer value(int slot) {
        checkPresent(slot);
        return view(slot).limit(lengths[slot]);
    }

    /** Sets the slot to {@code value}'s remaining bytes (a marker or a pointer), not moving its position. */
    public void set(int slot, ByteBuffer value) {
        int length = value.remaining();
        checkValueLength(length);
        if (length == BlockValue.MARKER_LENGTH) {
            BlockValue.marker(value.get(value.position())); // refuses an unknown kind
        }
        value.get(value.position(), values[slot], 0, length);
        lengths[slot] = length;
        mask |= 1 << slot;
    }

    /** Sets the slot to a marker ({@link BlockValue#ZERO} or {@link BlockValue#HOLE}). */
    public void setMarker(int slot, byte kind) {
        BlockValue.marker(kind); // refuses an unknown kind
        values[slot][0] = kind;
        lengths[slot] = BlockValue.MARKER_LENGTH;
        mask |= 1 << slot;
    }

    /** Sets the slot to a short-form pointer. */
    public void setPointer(int slot, int segment, long position, int crc) {
        BlockPointer.encode(view(slot), segment, position, crc);
        lengths[slot] = BlockPointer.LENGTH;
        mask |= 1 << slot;
    }

    public void remove(int slot) {
        mask &= ~(1 << slot);
    }

    /** Replaces this record with the one encoded in {@code src} from its position to its limit. */
    public void decode(ByteBuffer src) {
        clear();
        overlay(src, false);
    }

    /**
     * Adds the slots of the record encoded in {@code src} that this one does not have: a write's
     * slots merged into the record already there, the write's winning.
     */
    public void fillFrom(ByteBuffer src) {
        overlay(src, true);
    }

    private void overlay(ByteBuffer src, boolean keepOwn) {
        int at = src.position();
        int end = src.limit();
        if (end - at < BODY_OFFSET) {
            throw corrupt("of " + (end - at) + " bytes", src);
        }
        int theirs = src.getShort(at + MASK_OFFSET) & 0xffff;
        byte form = src.get(at + FORM_OFFSET);
        int p = at + BODY_OFFSET;
        if (form == RUN_FORM) {
            if (end - p != RUN_HEADER + 4 * Integer.bitCount(theirs) || theirs == 0) {
                throw corrupt("in run form of " + (end - at) + " bytes for mask " + Integer.toHexString(theirs), src);
            }
            int segment = src.getInt(p);
            long position = src.getLong(p + 4);
            int k = 0;
            for (int slot = 0; slot < SLOTS; slot++) {
                if ((theirs & (1 << slot)) != 0) {
                    int crc = src.getInt(p + RUN_HEADER + 4 * k);
                    if (!keepOwn || !has(slot)) {
                        setPointer(slot, segment, position + ((long) k << blockShift), crc);
                    }
                    k++;
                }
            }
            return;
        }
        if (form != SLOTS_FORM) {
            throw corrupt("of unknown form " + form, src);
        }
        for (int slot = 0; slot < SLOTS; slot++) {
            if ((theirs & (1 << slot)) == 0) {
                continue;
            }
            if (p >= end) {
                throw corrupt("ending before slot " + slot, src);
            }
            int length = src.get(p) & 0xff;
            if (!validValueLength(length) || p + 1 + length > end) {
                throw corrupt("with a slot " + slot + " value of " + length + " bytes", src);
            }
            if (length == BlockValue.MARKER_LENGTH && src.get(p + 1) != BlockValue.ZERO
                    && src.get(p + 1) != BlockValue.HOLE) {
                throw corrupt("with slot " + slot + " an unknown marker " + src.get(p + 1), src);
            }
            if (!keepOwn || !has(slot)) {
                src.get(p + 1, values[slot], 0, length);
                lengths[slot] = length;
                mask |= 1 << slot;
            }
            p += 1 + length;
        }
        if (p != end) {
            throw corrupt("with " + (end - p) + " bytes after its last slot", src);
        }
    }

    /**
     * Writes the record into {@code dst} at its position, in the run form when it can be, and
     * returns the length; {@code dst}'s position and limit do not move. A record needs a slot.
     */
    public int encode(ByteBuffer dst) {
        if (mask == 0) {
            throw new IllegalStateException("a region record without a slot is deleted, not written");
        }
        int at = dst.position();
        dst.putShort(at + MASK_OFFSET, (short) mask);
        int p = at + BODY_OFFSET;
        if (isRun()) {
            dst.put(at + FORM_OFFSET, RUN_FORM);
            int first = Integer.numberOfTrailingZeros(mask);
            dst.putInt(p, BlockPointer.segment(view(first), 0));
            dst.putLong(p + 4, BlockPointer.position(view(first), 0));
            p += RUN_HEADER;
            for (int slot = first; slot < SLOTS; slot++) {
                if (has(slot)) {
                    dst.putInt(p, BlockPointer.crc(view(slot), 0));
                    p += 4;
                }
            }
            return p - at;
        }
        dst.put(at + FORM_OFFSET, SLOTS_FORM);
        for (int slot = 0; slot < SLOTS; slot++) {
            if (has(slot)) {
                dst.put(p, (byte) lengths[slot]);
                dst.put(p + 1, values[slot], 0, lengths[slot]);
                p += 1 + lengths[slot];
            }
        }
        return p - at;
    }

    /** Every present slot a short-form pointer, in one segment, the k-th at the first's position + k blocks. */
    private boolean isRun() {
        int first = Integer.numberOfTrailingZeros(mask);
        int segment = BlockPointer.segment(view(first), 0);
        long next = BlockPointer.position(view(first), 0);
        for (int slot = first; slot < SLOTS; slot++) {
            if (!has(slot)) {
                continue;
            }
            if (lengths[slot] != BlockPointer.LENGTH || BlockPointer.segment(view(slot), 0) != segment
                    || BlockPointer.position(view(slot), 0) != next) {
                return false;
            }
            next += 1L << blockShift;
        }
        return true;
    }

    /** The slot's whole array (a view handed out by {@link #value} may have a shorter limit). */
    private ByteBuffer view(int slot) {
        return views[slot].clear();
    }

    private void checkPresent(int slot) {
        if (!has(slot)) {
            throw new IllegalStateException("slot " + slot + " of the region record is absent");
        }
    }

    private static boolean validValueLength(int length) {
        return length == BlockValue.MARKER_LENGTH || BlockPointer.isPointer(length);
    }

    private static void checkValueLength(int length) {
        if (!validValueLength(length)) {
            throw new IllegalArgumentException("a region slot holds a marker or a pointer, not " + length + " bytes");
        }
    }

    private static IllegalArgumentException corrupt(String what, ByteBuffer src) {
        return new IllegalArgumentException("region record " + what + " (" + (src.limit() - src.position())
                + " bytes) is not one this store wrote");
    }
}

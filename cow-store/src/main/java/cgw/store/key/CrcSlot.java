package cgw.store.key;

import java.nio.ByteBuffer;

/**
 * A slot of a value-log segment's CRC table: one per block position of the segment, written
 * before a block is overwritten in place, so that until (and after a crash before) its bytes
 * change, the location still matches one of the two CRCs. {@code session} names the store open
 * that wrote it (0: none, the bytes must be read to tell which CRC they match).
 *
 * <pre>
 *   0             4                 8             12            16
 *   | crc32c u32  | previous crc32c | session u32 | reserved u32 |
 * </pre>
 *
 * Slots of consecutive positions lie back to back; {@code index} counts slots from the start of
 * the buffer given.
 */
public final class CrcSlot {
    public static final int LENGTH = 16;
    private static final int CRC_OFFSET = 0;
    private static final int PREVIOUS_CRC_OFFSET = 4;
    private static final int SESSION_OFFSET = 8;
    private static final int RESERVED_OFFSET = 12;

    private CrcSlot() {
    }

    public static int crc(ByteBuffer slots, int index) {
        return slots.getInt(index * LENGTH + CRC_OFFSET);
    }

    public static int previousCrc(ByteBuffer slots, int index) {
        return slots.getInt(index * LENGTH + PREVIOUS_CRC_OFFSET);
    }

    public static int session(ByteBuffer slots, int index) {
        return slots.getInt(index * LENGTH + SESSION_OFFSET);
    }

    /** Appends a slot at {@code slots}' position, which moves past it. */
    public static void append(ByteBuffer slots, int crc, int previousCrc, int session) {
        int at = slots.position();
        slots.putInt(at + CRC_OFFSET, crc).putInt(at + PREVIOUS_CRC_OFFSET, previousCrc)
                .putInt(at + SESSION_OFFSET, session).putInt(at + RESERVED_OFFSET, 0).position(at + LENGTH);
    }
}

package cgw.store.key;

import java.nio.ByteBuffer;

/**
 * The value of a block version kept in the log: where its bytes are and their CRC32C, which
 * every read checks (a power loss can make a pointer durable before the bytes it points at).
 * A block overwritten in place has the long form, which also names the CRC of the bytes it
 * replaced: the pointer is put before the bytes are overwritten, so until they are (and after
 * a crash in between) the old bytes are what the location holds, and both are valid. It also
 * names the store session (a random number per open) that wrote it: within the session the
 * overwrite has finished once its stripe lock is free, so the bytes match the first CRC; a
 * pointer from an earlier session may be a crash's leftover whose bytes match the second.
 *
 * <pre>
 *   0             4                            12            16                20            24
 *   +-------------+----------------------------+-------------+-----------------+-------------+
 *   | segment u32 | position in segment (u64)  | crc32c      | previous crc32c | session u32 |  (long form)
 *   +-------------+----------------------------+-------------+-----------------+-------------+
 * </pre>
 *
 * Session 0 is no session: an overwrite whose bytes failed to be written puts its pointers
 * again with it. (A 20-byte long form without the session, from an earlier build, reads the
 * same and counts as no session too.) The long form is now only made by the cleaner, when it
 * moves a block of the table form: the 12-byte {@code segment | position} whose CRCs, previous
 * CRC and session are in the segment's CRC table, which every overwrite in place writes.
 */
public final class BlockPointer {
    /** The short form: segment, position, CRC. */
    public static final int LENGTH = 16;
    /** The long form: with the previous CRC and the session. */
    public static final int OVERWRITTEN_LENGTH = 24;
    private static final int SESSIONLESS_LENGTH = 20;
    /** The table form: segment and position only; the CRCs are in the segment's table ({@link CrcSlot}). */
    public static final int TABLE_LENGTH = 12;

    private static final int SEGMENT_OFFSET = 0;
    private static final int POSITION_OFFSET = 4;
    private static final int CRC_OFFSET = 12;
    private static final int PREVIOUS_CRC_OFFSET = 16;
    private static final int SESSION_OFFSET = 20;

    private BlockPointer() {
    }

    public static boolean isPointer(int valueLength) {
        return valueLength == LENGTH || valueLength == OVERWRITTEN_LENGTH || valueLength == SESSIONLESS_LENGTH
                || valueLength == TABLE_LENGTH;
    }

    /** Whether a pointer of this length keeps its CRCs in its segment's table (the others carry them). */
    public static boolean inTable(int valueLength) {
        return valueLength == TABLE_LENGTH;
    }

    public static void encodeInTable(ByteBuffer value, int segment, long position) {
        value.putInt(SEGMENT_OFFSET, segment);
        value.putLong(POSITION_OFFSET, position);
    }

    public static void encode(ByteBuffer value, int segment, long position, int crc) {
        encodeInTable(value, segment, position);
        value.putInt(CRC_OFFSET, crc);
    }

    public static void encodeOverwritten(ByteBuffer value, int segment, long position, int crc, int previousCrc,
            int session) {
        encode(value, segment, position, crc);
        value.putInt(PREVIOUS_CRC_OFFSET, previousCrc);
        value.putInt(SESSION_OFFSET, session);
    }

    /** A copy of {@code pointer} (either form) leading to another location of the same bytes. */
    public static byte[] moved(byte[] pointer, int segment, long position) {
        byte[] moved = pointer.clone();
        encodeInTable(ByteBuffer.wrap(moved), segment, position);
        return moved;
    }

    public static int segment(ByteBuffer value, int at) {
        return value.getInt(at + SEGMENT_OFFSET);
    }

    public static long position(ByteBuffer value, int at) {
        return value.getLong(at + POSITION_OFFSET);
    }

    public static int crc(ByteBuffer value, int at) {
        return value.getInt(at + CRC_OFFSET);
    }

    /** The CRC the location may still hold instead of {@link #crc}: the same for the short form. */
    public static int previousCrc(ByteBuffer value, int at, int length) {
        return length > LENGTH ? value.getInt(at + PREVIOUS_CRC_OFFSET) : crc(value, at);
    }

    /** The session that overwrote the block, 0 when not known (short form, sessionless long form). */
    public static int session(ByteBuffer value, int at, int length) {
        return length == OVERWRITTEN_LENGTH ? value.getInt(at + SESSION_OFFSET) : 0;
    }
}

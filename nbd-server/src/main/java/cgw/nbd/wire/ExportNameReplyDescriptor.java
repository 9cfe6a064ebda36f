package cgw.nbd.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * The answer to {@code NBD_OPT_EXPORT_NAME}: the export's size and transmission flags, then 124
 * reserved zero bytes unless the client set {@code NBD_FLAG_C_NO_ZEROES}.
 * <pre>
 *   0                  8        10                  134
 *   +------------------+--------+-------------------+
 *   | size             | flags  | zeroes (optional) |
 *   +------------------+--------+-------------------+
 * </pre>
 */
public final class ExportNameReplyDescriptor {
    public static final int SIZE_OFFSET = 0;
    public static final int TRANSMISSION_FLAGS_OFFSET = 8;
    public static final int ZEROES_OFFSET = 10;
    public static final int ZEROES_LENGTH = 124;
    /** Without the reserved zeroes. */
    public static final int SHORT_LENGTH = ZEROES_OFFSET;
    public static final int LENGTH = ZEROES_OFFSET + ZEROES_LENGTH;

    private ExportNameReplyDescriptor() {
    }

    public static ByteBuf encode(ByteBufAllocator alloc, long sizeBytes, int transmissionFlags, boolean noZeroes) {
        int length = noZeroes ? SHORT_LENGTH : LENGTH;
        ByteBuf out = alloc.buffer(length);
        out.setLong(SIZE_OFFSET, sizeBytes).setShort(TRANSMISSION_FLAGS_OFFSET, transmissionFlags);
        if (!noZeroes) {
            out.setZero(ZEROES_OFFSET, ZEROES_LENGTH);
        }
        return out.writerIndex(length);
    }
}

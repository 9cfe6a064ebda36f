package cgw.nbd.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * The payload of an {@code NBD_REP_INFO} reply of type {@code NBD_INFO_BLOCK_SIZE}.
 * <pre>
 *   0        2        6           10       14
 *   +--------+--------+-----------+--------+
 *   | type   | min    | preferred | max    |
 *   +--------+--------+-----------+--------+
 * </pre>
 */
public final class InfoBlockSizeDescriptor {
    public static final int INFO_TYPE_OFFSET = 0;
    public static final int MINIMUM_OFFSET = 2;
    public static final int PREFERRED_OFFSET = 6;
    public static final int MAXIMUM_OFFSET = 10;
    public static final int LENGTH = 14;

    private InfoBlockSizeDescriptor() {
    }

    public static ByteBuf encode(ByteBufAllocator alloc, int minimumBytes, int preferredBytes, int maximumBytes) {
        ByteBuf out = alloc.buffer(LENGTH);
        out.setShort(INFO_TYPE_OFFSET, Nbd.INFO_BLOCK_SIZE)
                .setInt(MINIMUM_OFFSET, minimumBytes)
                .setInt(PREFERRED_OFFSET, preferredBytes)
                .setInt(MAXIMUM_OFFSET, maximumBytes);
        return out.writerIndex(LENGTH);
    }
}

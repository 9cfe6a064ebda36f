package cgw.nbd.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * The payload of an {@code NBD_REP_INFO} reply of type {@code NBD_INFO_EXPORT}.
 * <pre>
 *   0        2                  10       12
 *   +--------+------------------+--------+
 *   | type   | size             | flags  |
 *   +--------+------------------+--------+
 * </pre>
 */
public final class InfoExportDescriptor {
    public static final int INFO_TYPE_OFFSET = 0;
    public static final int SIZE_OFFSET = 2;
    public static final int TRANSMISSION_FLAGS_OFFSET = 10;
    public static final int LENGTH = 12;

    private InfoExportDescriptor() {
    }

    public static ByteBuf encode(ByteBufAllocator alloc, long sizeBytes, int transmissionFlags) {
        ByteBuf out = alloc.buffer(LENGTH);
        out.setShort(INFO_TYPE_OFFSET, Nbd.INFO_EXPORT)
                .setLong(SIZE_OFFSET, sizeBytes)
                .setShort(TRANSMISSION_FLAGS_OFFSET, transmissionFlags);
        return out.writerIndex(LENGTH);
    }
}

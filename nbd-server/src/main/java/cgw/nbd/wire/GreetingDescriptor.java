package cgw.nbd.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * The server's greeting, the first bytes of a fixed newstyle handshake.
 * <pre>
 *   0                  8                  16       18
 *   +------------------+------------------+--------+
 *   | NBDMAGIC         | IHAVEOPT         | flags  |
 *   +------------------+------------------+--------+
 * </pre>
 */
public final class GreetingDescriptor {
    public static final int NBDMAGIC_OFFSET = 0;
    public static final int IHAVEOPT_OFFSET = 8;
    public static final int HANDSHAKE_FLAGS_OFFSET = 16;
    public static final int LENGTH = 18;

    private GreetingDescriptor() {
    }

    public static ByteBuf encode(ByteBufAllocator alloc, int handshakeFlags) {
        ByteBuf out = alloc.buffer(LENGTH);
        out.setLong(NBDMAGIC_OFFSET, Nbd.NBDMAGIC)
                .setLong(IHAVEOPT_OFFSET, Nbd.IHAVEOPT)
                .setShort(HANDSHAKE_FLAGS_OFFSET, handshakeFlags);
        return out.writerIndex(LENGTH);
    }
}

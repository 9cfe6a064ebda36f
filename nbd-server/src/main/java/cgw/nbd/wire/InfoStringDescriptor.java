package cgw.nbd.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * The payload of an {@code NBD_REP_INFO} reply that carries a string ({@code NBD_INFO_NAME},
 * {@code NBD_INFO_DESCRIPTION}): its UTF-8 bytes fill the rest of the payload.
 * <pre>
 *   0        2
 *   +--------+--------------------+
 *   | type   | text ...           |
 *   +--------+--------------------+
 * </pre>
 */
public final class InfoStringDescriptor {
    public static final int INFO_TYPE_OFFSET = 0;
    public static final int TEXT_OFFSET = 2;

    private InfoStringDescriptor() {
    }

    public static ByteBuf encode(ByteBufAllocator alloc, int infoType, byte[] text) {
        ByteBuf out = alloc.buffer(TEXT_OFFSET + text.length);
        out.setShort(INFO_TYPE_OFFSET, infoType).setBytes(TEXT_OFFSET, text);
        return out.writerIndex(TEXT_OFFSET + text.length);
    }
}

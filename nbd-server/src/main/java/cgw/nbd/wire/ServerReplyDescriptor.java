package cgw.nbd.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * The payload of an {@code NBD_REP_SERVER} reply to {@code NBD_OPT_LIST}: one export's name,
 * then its description up to the end of the payload.
 * <pre>
 *   0        4                 4+n
 *   +--------+-----------------+------------------+
 *   | n      | name (n bytes)  | description ...  |
 *   +--------+-----------------+------------------+
 * </pre>
 */
public final class ServerReplyDescriptor {
    public static final int NAME_LENGTH_OFFSET = 0;
    public static final int NAME_OFFSET = 4;

    private ServerReplyDescriptor() {
    }

    public static ByteBuf encode(ByteBufAllocator alloc, byte[] name, byte[] description) {
        int length = NAME_OFFSET + name.length + description.length;
        ByteBuf out = alloc.buffer(length);
        out.setInt(NAME_LENGTH_OFFSET, name.length)
                .setBytes(NAME_OFFSET, name)
                .setBytes(NAME_OFFSET + name.length, description);
        return out.writerIndex(length);
    }
}

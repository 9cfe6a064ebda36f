package cgw.nbd.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * The payload of an {@code NBD_REP_META_CONTEXT} reply: the context's id (0 in answer to a
 * LIST), then its name up to the end of the payload.
 * <pre>
 *   0        4
 *   +--------+--------------------+
 *   | id     | name ...           |
 *   +--------+--------------------+
 * </pre>
 */
public final class MetaContextReplyDescriptor {
    public static final int CONTEXT_ID_OFFSET = 0;
    public static final int NAME_OFFSET = 4;

    private MetaContextReplyDescriptor() {
    }

    public static ByteBuf encode(ByteBufAllocator alloc, int contextId, byte[] name) {
        ByteBuf out = alloc.buffer(NAME_OFFSET + name.length);
        out.setInt(CONTEXT_ID_OFFSET, contextId).setBytes(NAME_OFFSET, name);
        return out.writerIndex(NAME_OFFSET + name.length);
    }
}

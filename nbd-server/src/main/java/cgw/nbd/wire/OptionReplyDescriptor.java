package cgw.nbd.wire;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * The header of every option reply; a payload of {@code length} bytes follows.
 * <pre>
 *   0                  8        12       16       20
 *   +------------------+--------+--------+--------+
 *   | reply magic      | option | type   | length |
 *   +------------------+--------+--------+--------+
 * </pre>
 */
public final class OptionReplyDescriptor {
    public static final int MAGIC_OFFSET = 0;
    public static final int OPTION_OFFSET = 8;
    public static final int TYPE_OFFSET = 12;
    public static final int PAYLOAD_LENGTH_OFFSET = 16;
    public static final int LENGTH = 20;

    private OptionReplyDescriptor() {
    }

    public static ByteBuf encode(ByteBufAllocator alloc, int option, OptionReply type, int payloadBytes) {
        ByteBuf out = alloc.buffer(LENGTH);
        out.setLong(MAGIC_OFFSET, Nbd.OPTION_REPLY_MAGIC)
                .setInt(OPTION_OFFSET, option)
                .setInt(TYPE_OFFSET, type.code)
                .setInt(PAYLOAD_LENGTH_OFFSET, payloadBytes);
        return out.writerIndex(LENGTH);
    }
}

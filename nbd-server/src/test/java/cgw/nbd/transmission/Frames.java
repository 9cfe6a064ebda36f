package cgw.nbd.transmission;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.nbd.Wire;
import cgw.nbd.wire.Command;
import cgw.nbd.wire.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/** Requests as a client sends them, and replies read as a client reads them. */
final class Frames {
    private Frames() {
    }

    static byte[] request(Command command, int flags, long cookie, long offset, long length, byte[] payload) {
        ByteBuf out = Unpooled.buffer();
        out.writeInt(Nbd.REQUEST_MAGIC).writeShort(flags).writeShort(command.code).writeLong(cookie)
                .writeLong(offset).writeInt((int) length);
        if (payload != null) {
            out.writeBytes(payload);
        }
        return Wire.bytes(out);
    }

    static byte[] request(Command command, long cookie, long offset, long length) {
        return request(command, 0, cookie, offset, length, null);
    }

    /** Reads a simple reply's header off {@code replies}, checks its cookie, and returns its error. */
    static int simpleReply(ByteBuf replies, long cookie) {
        assertThat(replies.readInt()).as("simple reply magic").isEqualTo(Nbd.SIMPLE_REPLY_MAGIC);
        int error = replies.readInt();
        assertThat(replies.readLong()).as("cookie").isEqualTo(cookie);
        return error;
    }

    /** One structured reply chunk. */
    record Chunk(int flags, int type, ByteBuf payload) {
        boolean done() {
            return (flags & Nbd.REPLY_FLAG_DONE) != 0;
        }
    }

    static Chunk chunk(ByteBuf replies, long cookie) {
        assertThat(replies.readInt()).as("structured reply magic").isEqualTo(Nbd.STRUCTURED_REPLY_MAGIC);
        int flags = replies.readUnsignedShort();
        int type = replies.readUnsignedShort();
        assertThat(replies.readLong()).as("cookie").isEqualTo(cookie);
        return new Chunk(flags, type, replies.readSlice(replies.readInt()));
    }
}

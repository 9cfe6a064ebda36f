package cgw.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;

/**
 * Moves bytes in and out of an {@link EmbeddedChannel} as a socket would: all at once or one
 * byte per read, and every reply written so far as one array.
 */
public final class Wire {
    private Wire() {
    }

    /** Delivers {@code bytes} in one read, or one byte per read, with a read-complete after each. */
    public static void send(EmbeddedChannel channel, byte[] bytes, boolean byteAtATime) {
        if (!byteAtATime) {
            channel.writeInbound(Unpooled.wrappedBuffer(bytes));
            return;
        }
        for (byte b : bytes) {
            if (!channel.isOpen()) {
                return;
            }
            channel.writeInbound(Unpooled.wrappedBuffer(new byte[]{b}));
        }
    }

    /**
     * Every byte the handlers wrote since the last call, flushed as the end of the pipeline would
     * and their buffers released; read it as the client would (a plain heap buffer, nothing to
     * release).
     */
    public static ByteBuf received(EmbeddedChannel channel) {
        channel.runPendingTasks();
        if (channel.isOpen()) {
            channel.flushOutbound();
        }
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        for (Object message; (message = channel.readOutbound()) != null;) {
            ByteBuf buf = (ByteBuf) message;
            all.writeBytes(ByteBufUtil.getBytes(buf));
            buf.release();
        }
        return Unpooled.wrappedBuffer(all.toByteArray());
    }

    /** The readable bytes of {@code buf}, which stays as it is. */
    public static byte[] bytes(ByteBuf buf) {
        return ByteBufUtil.getBytes(buf);
    }
}

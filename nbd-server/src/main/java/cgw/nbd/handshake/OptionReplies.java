package cgw.nbd.handshake;

import cgw.nbd.wire.OptionReply;
import cgw.nbd.wire.OptionReplyDescriptor;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends option replies, and hangs up on clients the protocol says to. Shared by the handshake's
 * handlers so that a refusal reads the same whichever layer sends it. Stateless; the event loop.
 */
final class OptionReplies {
    private static final Logger log = LoggerFactory.getLogger(OptionReplies.class);

    private OptionReplies() {
    }

    /** Sends a reply with {@code payload} (null: none), which it takes ownership of. */
    static ChannelFuture reply(ChannelHandlerContext ctx, int option, OptionReply type, @Nullable ByteBuf payload) {
        int length = payload == null ? 0 : payload.readableBytes();
        ByteBuf header = OptionReplyDescriptor.encode(ctx.alloc(), option, type, length);
        if (payload == null) {
            return ctx.writeAndFlush(header);
        }
        ctx.write(header);
        return ctx.writeAndFlush(payload);
    }

    /** Refuses {@code option} with an error reply whose payload is {@code message}, for the human at the client. */
    static void refuse(ChannelHandlerContext ctx, int option, OptionReply type, String message) {
        log.debug("option {} refused with {}: {}", option, type, message);
        byte[] text = message.getBytes(StandardCharsets.UTF_8);
        reply(ctx, option, type, ctx.alloc().buffer(text.length).writeBytes(text));
    }

    /** Ends the session without a reply: for what the protocol answers only by closing. */
    static void hangUp(ChannelHandlerContext ctx, String why) {
        log.info("closing NBD connection from {} during the handshake: {}", ctx.channel().remoteAddress(), why);
        OptionDecoder.stop(ctx.channel());
        ctx.close();
    }
}

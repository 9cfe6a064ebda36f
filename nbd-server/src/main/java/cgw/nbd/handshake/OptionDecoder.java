package cgw.nbd.handshake;

import cgw.nbd.wire.GreetingDescriptor;
import cgw.nbd.wire.Nbd;
import cgw.nbd.wire.Option;
import cgw.nbd.wire.OptionHeaderDescriptor;
import cgw.nbd.wire.OptionReply;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.AttributeKey;
import java.util.List;

/**
 * Frames the client's side of a fixed newstyle handshake: sends the greeting, reads the client
 * flags ({@link ClientFlags}), then emits each option whole ({@link OptionRequest}), one per
 * decode so that the handler choosing an export can hand the bytes after it to the transmission
 * phase. An option longer than {@link #MAX_OPTION_BYTES} is skipped and refused as too big; one
 * longer than {@link #MAX_SKIPPED_OPTION_BYTES}, a bad magic or unknown client flags end the
 * session.
 *
 * <p>Threads: the channel's event loop only; one instance per connection. Never answers an
 * option it has framed: that is for the layers after it.
 */
final class OptionDecoder extends ByteToMessageDecoder {
    /** Options with more data than this are skipped and refused with ERR_TOO_BIG. */
    static final int MAX_OPTION_BYTES = 64 << 10;
    /** Options with more data than this are a hostile client: the connection is closed. */
    static final int MAX_SKIPPED_OPTION_BYTES = 1 << 20;

    /** Set on a channel whose handshake ended without transmission: see {@link #stop}. */
    private static final AttributeKey<Boolean> STOPPED = AttributeKey.valueOf(OptionDecoder.class, "stopped");

    private enum State {
        CLIENT_FLAGS,
        OPTION_HEADER,
        OPTION_DATA,
        SKIP_OPTION
    }

    private State state = State.CLIENT_FLAGS;
    private int option;
    private long optionLength;
    private long skipBytes;

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        ctx.writeAndFlush(GreetingDescriptor.encode(ctx.alloc(), Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES));
        super.channelActive(ctx);
    }

    /**
     * Ends the handshake of {@code channel} without transmission (a hang-up, an ABORT): whatever
     * the client sent after is dropped unanswered, even before the channel is closed.
     */
    static void stop(Channel channel) {
        channel.attr(STOPPED).set(Boolean.TRUE);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        // an option without data is complete as soon as its header is, with no byte left to call
        // decode again: keep going while there is progress, up to one message
        State before;
        do {
            if (ctx.channel().hasAttr(STOPPED)) {
                in.skipBytes(in.readableBytes());
                return;
            }
            before = state;
            step(ctx, in, out);
        } while (out.isEmpty() && state != before);
    }

    private void step(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case CLIENT_FLAGS -> {
                if (in.readableBytes() < Integer.BYTES) {
                    return;
                }
                int flags = in.readInt();
                if ((flags & ~(Nbd.FLAG_C_FIXED_NEWSTYLE | Nbd.FLAG_C_NO_ZEROES)) != 0) {
                    OptionReplies.hangUp(ctx, String.format("unknown client flags 0x%08x", flags));
                    return;
                }
                state = State.OPTION_HEADER;
                out.add(new ClientFlags((flags & Nbd.FLAG_C_NO_ZEROES) != 0));
            }
            case OPTION_HEADER -> {
                if (in.readableBytes() < OptionHeaderDescriptor.LENGTH) {
                    return;
                }
                int start = in.readerIndex();
                long magic = in.getLong(start + OptionHeaderDescriptor.MAGIC_OFFSET);
                in.skipBytes(OptionHeaderDescriptor.LENGTH);
                if (magic != Nbd.IHAVEOPT) {
                    OptionReplies.hangUp(ctx, String.format("bad option magic 0x%016x", magic));
                    return;
                }
                option = in.getInt(start + OptionHeaderDescriptor.OPTION_OFFSET);
                optionLength = in.getUnsignedInt(start + OptionHeaderDescriptor.DATA_LENGTH_OFFSET);
                if (optionLength > MAX_SKIPPED_OPTION_BYTES) {
                    OptionReplies.hangUp(ctx, "option " + option + " claims " + optionLength + " bytes of data");
                    return;
                }
                if (optionLength > MAX_OPTION_BYTES) {
                    skipBytes = optionLength;
                    state = State.SKIP_OPTION;
                } else {
                    state = State.OPTION_DATA;
                }
            }
            case SKIP_OPTION -> {
                int skip = (int) Math.min(skipBytes, in.readableBytes());
                in.skipBytes(skip);
                skipBytes -= skip;
                if (skipBytes == 0) {
                    state = State.OPTION_HEADER;
                    OptionReplies.refuse(ctx, option, OptionReply.ERR_TOO_BIG, "option data of " + optionLength
                            + " bytes is over the limit of " + MAX_OPTION_BYTES);
                }
            }
            case OPTION_DATA -> {
                if (in.readableBytes() < optionLength) {
                    return;
                }
                state = State.OPTION_HEADER;
                if (option == Option.STARTTLS.code && in.readableBytes() > optionLength) {
                    // bytes sent before the server's answer would be read as if they came over TLS:
                    // an injection (CVE-2021-3716 in nbdkit); no client may send them
                    in.skipBytes(in.readableBytes());
                    OptionReplies.hangUp(ctx, "bytes after NBD_OPT_STARTTLS before the TLS handshake");
                    return;
                }
                out.add(new OptionRequest(option, in.readRetainedSlice((int) optionLength)));
            }
        }
    }
}

package cgw.nbd.transmission;

import cgw.nbd.wire.Command;
import cgw.nbd.wire.Nbd;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import java.util.List;

/**
 * Splits the transmission byte stream into {@link Request}s. A request is emitted only once its
 * header and (for WRITE) its whole payload have arrived; the payload is a retained slice of the
 * cumulation, never a copy. A WRITE longer than the maximum payload is skipped as it streams in
 * and emitted without data, so the dispatcher can answer EINVAL and the connection lives on.
 * A bad magic number is a protocol violation: the connection is closed.
 *
 * <p>Threads: the channel's event loop only; one instance per connection.
 * <pre>
 *   0        4      6      8                16               24       28
 *   +--------+------+------+----------------+----------------+--------+
 *   | magic  | flags| type | cookie         | offset         | length |
 *   +--------+------+------+----------------+----------------+--------+
 * </pre>
 */
public final class RequestDecoder extends ByteToMessageDecoder {
    private final int maxPayloadBytes;
    private long discardBytes;
    private Request discarded;

    public RequestDecoder(int maxPayloadBytes) {
        this.maxPayloadBytes = maxPayloadBytes;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (discardBytes > 0) {
            int skip = (int) Math.min(discardBytes, in.readableBytes());
            in.skipBytes(skip);
            discardBytes -= skip;
            if (discardBytes > 0) {
                return;
            }
            out.add(discarded);
            discarded = null;
            return;
        }
        if (in.readableBytes() < Nbd.REQUEST_HEADER_BYTES) {
            return;
        }
        int start = in.readerIndex();
        int magic = in.getInt(start);
        if (magic != Nbd.REQUEST_MAGIC) {
            in.skipBytes(in.readableBytes()); // the stream is lost: nothing after this can be trusted
            throw new CorruptedFrameException(String.format("bad request magic 0x%08x", magic));
        }
        int flags = in.getUnsignedShort(start + 4);
        int type = in.getUnsignedShort(start + 6);
        long cookie = in.getLong(start + 8);
        long offset = in.getLong(start + 16);
        long length = in.getUnsignedInt(start + 24);
        if (type != Command.WRITE.code) {
            in.skipBytes(Nbd.REQUEST_HEADER_BYTES);
            out.add(new Request(flags, type, cookie, offset, length, null, false));
            return;
        }
        if (length > maxPayloadBytes) {
            in.skipBytes(Nbd.REQUEST_HEADER_BYTES);
            discardBytes = length;
            discarded = new Request(flags, type, cookie, offset, length, null, true);
            return;
        }
        if (in.readableBytes() < Nbd.REQUEST_HEADER_BYTES + length) {
            return;
        }
        in.skipBytes(Nbd.REQUEST_HEADER_BYTES);
        out.add(new Request(flags, type, cookie, offset, length, in.readRetainedSlice((int) length), false));
    }
}

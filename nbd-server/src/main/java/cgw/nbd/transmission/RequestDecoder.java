package cgw.nbd.transmission;

import cgw.nbd.wire.Command;
import cgw.nbd.wire.Nbd;
import cgw.nbd.wire.RequestHeaderDescriptor;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Splits the transmission byte stream into {@link Request}s. A request is emitted only once its
 * header and (for WRITE) its whole payload have arrived. A payload that has arrived whole with its
 * header is a retained slice of the cumulation; a larger one still streaming in
 * ({@link #STREAMED_PAYLOAD_BYTES} or more) is copied into a buffer of exactly its size, allocated
 * once from the channel's allocator, as its bytes come (received straight into it through the
 * channel's {@link PayloadReceiver} when it has one): the cumulation would otherwise grow
 * through ever larger reallocations and copies. A WRITE longer than the maximum
 * payload is skipped as it streams in and emitted without data, so the dispatcher can answer
 * EINVAL and the connection lives on. While a payload streams in over TCP the socket wakes the
 * event loop only once much of it is there ({@link #PAYLOAD_LOW_WATER_BYTES}).
 * A bad magic number is a protocol violation: the connection is closed.
 *
 * <p>While the connection's {@link ReadGate} is shut, no new request is decoded: bytes a burst
 * brought in stay here until it opens, so one socket read never dispatches past the in-flight
 * bounds. A payload that stops arriving (no byte for the stall timeout) closes the connection and
 * frees its buffer; an idle connection between requests is a quiet client and stays open.
 *
 * <p>Threads: the channel's event loop only; one instance per connection. The header's layout is
 * {@link RequestHeaderDescriptor}.
 */
public final class RequestDecoder extends ByteToMessageDecoder {
    private static final Logger log = LoggerFactory.getLogger(RequestDecoder.class);
    static final int STREAMED_PAYLOAD_BYTES = 64 << 10;
    /**
     * At most this much of a streamed payload gathers in the socket before the event loop wakes to
     * take it (SO_RCVLOWAT, TCP on epoll only; the kernel caps it at half its largest receive
     * buffer), so that a long payload costs a few wake-ups of the loop instead of one every few
     * segments.
     */
    static final int PAYLOAD_LOW_WATER_BYTES = 1 << 20;
    /** SO_RCVLOWAT of Linux's generic socket options (x86-64, arm64). */
    private static final IntegerUnixChannelOption SO_RCVLOWAT = new IntegerUnixChannelOption("SO_RCVLOWAT", 1, 18);
    private final int maxPayloadBytes;
    private final ReadGate gate;
    private final ConnectionMemory memory;
    /** The reservation of a streamed payload passed on, released once flow control has counted it. */
    private long passedOnReservation;
    /** The reservation of the payload streaming in now. */
    private long streamingReservation;
    private final long stallTimeoutMs;
    private long discardBytes;
    private @Nullable Request discarded;
    /** A WRITE whose payload is streaming into {@link #payload}; its payload field is null. */
    private @Nullable Request streaming;
    private @Nullable ByteBuf payload;
    /** The channel's receiver while {@link #payload} is received in place, else null. */
    private @Nullable PayloadReceiver receiver;
    /** The socket's receive low-water mark, as last set; see {@link #PAYLOAD_LOW_WATER_BYTES}. */
    private int lowWater = 1;

    /** Payload bytes received since the stall check last looked; see {@link #checkStallLater}. */
    private long payloadProgress;
    /**
     * Streamed payloads begun so far: which one the stall check saw last. Not the buffer itself:
     * pooled buffers are recycled, so a later payload may be the same object.
     */
    private long payloadsStarted;
    /** Whether a stall check is scheduled: one at a time, while payloads stream in. */
    private boolean stallCheckScheduled;
    /** Payload bytes received since the connection opened, for {@link PressureRelief}. */
    private long payloadBytesReceived;

    public RequestDecoder(int maxPayloadBytes, ReadGate gate, ConnectionMemory memory, long stallTimeoutMs) {
        this.memory = memory;
        this.maxPayloadBytes = maxPayloadBytes;
        this.gate = gate;
        this.stallTimeoutMs = stallTimeoutMs;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        gate.onOpen(() -> resume(ctx));
    }

    /**
     * Decodes what arrived while the gate was shut, once it opens: as a task of the event loop,
     * never inside the decoding that a reply completed on the spot may be running right now.
     */
    private void resume(ChannelHandlerContext ctx) {
        ctx.executor().execute(() -> decodeHeld(ctx));
    }

    private void decodeHeld(ChannelHandlerContext ctx) {
        if (ctx.isRemoved() || actualReadableBytes() == 0 || !gate.isOpen()) {
            return;
        }
        try {
            channelRead(ctx, Unpooled.EMPTY_BUFFER);
            releasePassedOn();
        } catch (Exception e) {
            ctx.fireExceptionCaught(e);
        }
        ctx.fireChannelReadComplete(); // replies written on the way (refusals) go out
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        releasePassedOn(); // what this decoder emitted before has been through flow control by now
        if (payload == null && discardBytes == 0 && !gate.isOpen()) {
            return; // not now: decoded once the gate opens
        }
        if (payload != null) {
            int n = Math.min(payload.writableBytes(), in.readableBytes());
            payloadProgress += n;
            payloadBytesReceived += n;
            if (PayloadReceiver.receivedInPlace(in, payload)) {
                payload.writerIndex(payload.writerIndex() + n);
                in.skipBytes(n);
            } else {
                payload.writeBytes(in, n);
            }
            if (!payload.isWritable()) {
                Request header = Objects.requireNonNull(streaming, "a payload without its request");
                passedOnReservation = streamingReservation;
                streamingReservation = 0;
                out.add(new Request(header.flags(), header.type(), header.cookie(), header.offset(), header.length(),
                        payload, false));
                stopStreaming();
                if (lowWater > 1) {
                    setLowWater(ctx, 1);
                }
            } else if (payload.writableBytes() < lowWater) {
                setLowWater(ctx, payload.writableBytes());
            }
            return;
        }
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
        if (in.readableBytes() < RequestHeaderDescriptor.LENGTH) {
            return;
        }
        int start = in.readerIndex();
        int magic = in.getInt(start + RequestHeaderDescriptor.MAGIC_OFFSET);
        if (magic != Nbd.REQUEST_MAGIC) {
            in.skipBytes(in.readableBytes()); // the stream is lost: nothing after this can be trusted
            throw new CorruptedFrameException(String.format("bad request magic 0x%08x", magic));
        }
        int flags = in.getUnsignedShort(start + RequestHeaderDescriptor.FLAGS_OFFSET);
        int type = in.getUnsignedShort(start + RequestHeaderDescriptor.TYPE_OFFSET);
        long cookie = in.getLong(start + RequestHeaderDescriptor.COOKIE_OFFSET);
        long offset = in.getLong(start + RequestHeaderDescriptor.OFFSET_OFFSET);
        long length = in.getUnsignedInt(start + RequestHeaderDescriptor.LENGTH_OFFSET);
        if (type != Command.WRITE.code) {
            in.skipBytes(RequestHeaderDescriptor.LENGTH);
            out.add(new Request(flags, type, cookie, offset, length, null, false));
            return;
        }
        if (length > maxPayloadBytes) {
            in.skipBytes(RequestHeaderDescriptor.LENGTH);
            discardBytes = length;
            discarded = new Request(flags, type, cookie, offset, length, null, true);
            return;
        }
        if (in.readableBytes() < RequestHeaderDescriptor.LENGTH + length) {
            if (length >= STREAMED_PAYLOAD_BYTES) {
                if (!memory.tryReserve(ctx, length, () -> gate.open(ReadGate.Reason.MEMORY))) {
                    return; // the header stays: decoded again once memory is released
                }
                streamingReservation = length;
                in.skipBytes(RequestHeaderDescriptor.LENGTH);
                streaming = new Request(flags, type, cookie, offset, length, null, false);
                payload = ctx.alloc().directBuffer((int) length, (int) length);
                payload.writeBytes(in, in.readableBytes());
                payloadProgress = 0;
                payloadsStarted++;
                if (!stallCheckScheduled) {
                    stallCheckScheduled = true;
                    checkStallLater(ctx, payloadsStarted);
                }
                receiver = payload.hasMemoryAddress() ? receiverOf(ctx) : null;
                if (receiver != null) {
                    receiver.receiveInto(payload);
                    if (ctx.channel() instanceof EpollSocketChannel) {
                        setLowWater(ctx, Math.min(payload.writableBytes(), PAYLOAD_LOW_WATER_BYTES));
                    }
                }
            }
            return;
        }
        in.skipBytes(RequestHeaderDescriptor.LENGTH);
        out.add(new Request(flags, type, cookie, offset, length, in.readRetainedSlice((int) length), false));
    }

    /**
     * The channel's {@link PayloadReceiver} if payloads may be received in place: this decoder
     * sees the socket's bytes as they come (is first in the pipeline: no TLS handler before it).
     */
    private static @Nullable PayloadReceiver receiverOf(ChannelHandlerContext ctx) {
        return ctx.channel().config().getRecvByteBufAllocator() instanceof PayloadReceiver r
                && ctx.pipeline().firstContext() == ctx ? r : null;
    }

    /**
     * Sets the socket's receive low-water mark: epoll reports the connection readable only once
     * {@code bytes} have arrived (or the peer hung up). Never more than the streamed payload still
     * lacks, which the client must send, and back to 1 when it is complete.
     */
    private void setLowWater(ChannelHandlerContext ctx, int bytes) {
        ctx.channel().config().setOption(SO_RCVLOWAT, bytes);
        lowWater = bytes;
    }

    /** Whether a streamed payload is coming in: what the decoder waits for are the client's bytes. */
    boolean awaitsPayload() {
        return payload != null;
    }

    long payloadBytesReceived() {
        return payloadBytesReceived;
    }

    /**
     * After the stall timeout, closes the connection if payload number {@code started} is still
     * the one coming in and no byte of it arrived meanwhile although the connection was being read
     * (while the gate is shut, for replies the client reads slowly, the wait is ours, not the
     * client's); looks again a timeout later while payloads keep streaming.
     */
    private void checkStallLater(ChannelHandlerContext ctx, long started) {
        ctx.executor().schedule(() -> {
            ByteBuf streamed = payload;
            if (streamed == null || ctx.isRemoved()) {
                stallCheckScheduled = false; // the next payload schedules the next check
                return;
            }
            if (payloadsStarted != started || payloadProgress > 0 || !gate.isOpen()) {
                payloadProgress = 0;
                checkStallLater(ctx, payloadsStarted);
                return;
            }
            log.info("closing the NBD connection from {}: the payload of a {}-byte write stopped arriving for {} ms",
                    ctx.channel().remoteAddress(), streamed.capacity(), stallTimeoutMs);
            ctx.close();
        }, stallTimeoutMs, TimeUnit.MILLISECONDS);
    }

    private void stopStreaming() {
        if (receiver != null) {
            receiver.receiveInto(null);
            receiver = null;
        }
        payload = null;
        streaming = null;
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        if (payload != null) {
            payload.release();
            stopStreaming();
        }
        releasePassedOn();
        if (streamingReservation > 0) {
            memory.release(streamingReservation);
            streamingReservation = 0;
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        releasePassedOn();
        super.channelReadComplete(ctx);
    }

    private void releasePassedOn() {
        if (passedOnReservation > 0) {
            memory.release(passedOnReservation);
            passedOnReservation = 0;
        }
    }
}

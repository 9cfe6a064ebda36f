package cgw.nbd.transmission;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.UncheckedBooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * A connection's receive-buffer allocator that lets a large WRITE payload arrive straight in the
 * buffer that carries it to the store. While {@link RequestDecoder} streams a payload
 * ({@link #receiveInto}), each socket read goes into a slice of the payload's unwritten part, so
 * the kernel's copy out of the socket is the only one; the decoder then only moves the payload's
 * writer index. Otherwise (headers, small requests) buffers come from Netty's adaptive allocator.
 *
 * <p>A slice is sized to what the payload still lacks, so a read never takes bytes of the next
 * request. Only for a decoder that sees the socket's bytes as they arrive (no TLS handler before
 * it): bytes received into a payload must be the payload's.
 *
 * <p>Threads: the channel's event loop only. One instance per channel: Netty keeps the handle a
 * channel's first read creates, so it is set when the channel is initialised.
 */
public final class PayloadReceiver implements RecvByteBufAllocator {
    private final RecvByteBufAllocator normal = new AdaptiveRecvByteBufAllocator();
    private @Nullable ByteBuf target;

    /** Receives into {@code payload}'s writable part from the next read on; null to stop. */
    void receiveInto(@Nullable ByteBuf payload) {
        target = payload;
    }

    /** Whether {@code in} holds bytes received in place: it starts where {@code payload}'s unwritten part does. */
    static boolean receivedInPlace(ByteBuf in, ByteBuf payload) {
        return in.hasMemoryAddress() && payload.hasMemoryAddress()
                && in.memoryAddress() + in.readerIndex() == payload.memoryAddress() + payload.writerIndex();
    }

    @Override
    public Handle newHandle() {
        return new PayloadHandle((ExtendedHandle) normal.newHandle());
    }

    private final class PayloadHandle extends DelegatingHandle implements ExtendedHandle {
        PayloadHandle(ExtendedHandle delegate) {
            super(delegate);
        }

        @Override
        public ByteBuf allocate(ByteBufAllocator alloc) {
            ByteBuf into = target;
            if (into != null && into.isWritable()) {
                return into.retainedSlice(into.writerIndex(), into.writableBytes()).clear();
            }
            return super.allocate(alloc);
        }

        @Override
        public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
            return ((ExtendedHandle) delegate()).continueReading(maybeMoreDataSupplier);
        }
    }
}

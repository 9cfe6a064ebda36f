package cgw.nbd.transmission;

import cgw.nbd.wire.Nbd;
import cgw.store.Extent;
import cgw.store.ExtentType;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.List;

/**
 * Encodes the reply to BLOCK_STATUS in the {@code base:allocation} context: one final chunk with
 * a descriptor (length, state) per extent, or only the first with REQ_ONE.
 *
 * <pre>
 *   chunk header (20)  context id (4)  then per extent: length (4)  state (4)
 * </pre>
 *
 * <p>Threads: the channel's event loop; stateless.
 */
final class BlockStatusReplies {
    /** One BLOCK_STATUS answers for at most this much; the client asks again for the rest. */
    static final long MAX_STATUS_BYTES = 1L << 30;
    private static final int CONTEXT_ID_BYTES = 4;
    private static final int DESCRIPTOR_BYTES = 8;

    private BlockStatusReplies() {
    }

    static ByteBuf encode(ByteBufAllocator alloc, long cookie, int contextId, List<Extent> extents, boolean reqOne) {
        int descriptors = reqOne ? 1 : extents.size();
        int payloadBytes = CONTEXT_ID_BYTES + DESCRIPTOR_BYTES * descriptors;
        ByteBuf out = alloc.directBuffer(Nbd.STRUCTURED_REPLY_HEADER_BYTES + payloadBytes);
        Replies.writeChunkHeader(out, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_BLOCK_STATUS, cookie, payloadBytes);
        out.writeInt(contextId);
        for (int i = 0; i < descriptors; i++) {
            Extent extent = extents.get(i);
            out.writeInt((int) extent.length()).writeInt(stateOf(extent.type()));
        }
        return out;
    }

    private static int stateOf(ExtentType type) {
        return switch (type) {
            case DATA -> 0;
            case ZERO -> Nbd.STATE_ZERO;
            case HOLE -> Nbd.STATE_HOLE | Nbd.STATE_ZERO;
        };
    }
}

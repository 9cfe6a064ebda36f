package cgw.nbd.transmission;

import cgw.nbd.export.ChangeRun;
import cgw.nbd.wire.Nbd;
import cgw.store.Extent;
import cgw.store.ExtentType;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.List;

/**
 * Encodes the replies to BLOCK_STATUS: one chunk per negotiated context, each a descriptor
 * (length, state) per extent, or only the first with REQ_ONE; the last chunk is flagged done.
 *
 * <pre>
 *   chunk header (20)  context id (4)  then per extent: length (4)  state (4)
 * </pre>
 *
 * <p>{@code base:allocation} states are the specification's (hole, zero); a
 * {@code cgw:changed-since} state has bit 0 set where the run was written since the snapshot.
 *
 * <p>Threads: the channel's event loop; stateless.
 */
final class BlockStatusReplies {
    /** One BLOCK_STATUS answers for at most this much; the client asks again for the rest. */
    static final long MAX_STATUS_BYTES = 1L << 30;
    /** The {@code cgw:changed-since} state of a run written since the snapshot. */
    static final int STATE_CHANGED = 1;
    private static final int CONTEXT_ID_BYTES = 4;
    private static final int DESCRIPTOR_BYTES = 8;

    private BlockStatusReplies() {
    }

    static ByteBuf allocation(ByteBufAllocator alloc, long cookie, int contextId, List<Extent> extents,
            boolean reqOne, boolean done) {
        int descriptors = reqOne ? 1 : extents.size();
        ByteBuf out = start(alloc, cookie, contextId, descriptors, done);
        for (int i = 0; i < descriptors; i++) {
            Extent extent = extents.get(i);
            out.writeInt((int) extent.length()).writeInt(stateOf(extent.type()));
        }
        return out;
    }

    /** The {@code cgw:changed-since} chunk; always the last one. */
    static ByteBuf changes(ByteBufAllocator alloc, long cookie, int contextId, List<ChangeRun> runs, boolean reqOne) {
        int descriptors = reqOne ? 1 : runs.size();
        ByteBuf out = start(alloc, cookie, contextId, descriptors, true);
        for (int i = 0; i < descriptors; i++) {
            ChangeRun run = runs.get(i);
            out.writeInt((int) run.length()).writeInt(run.changed() ? STATE_CHANGED : 0);
        }
        return out;
    }

    private static ByteBuf start(ByteBufAllocator alloc, long cookie, int contextId, int descriptors, boolean done) {
        int payloadBytes = CONTEXT_ID_BYTES + DESCRIPTOR_BYTES * descriptors;
        ByteBuf out = alloc.directBuffer(Nbd.STRUCTURED_REPLY_HEADER_BYTES + payloadBytes);
        Replies.writeChunkHeader(out, done ? Nbd.REPLY_FLAG_DONE : 0, Nbd.REPLY_TYPE_BLOCK_STATUS, cookie,
                payloadBytes);
        return out.writeInt(contextId);
    }

    private static int stateOf(ExtentType type) {
        return switch (type) {
            case DATA -> 0;
            case ZERO -> Nbd.STATE_ZERO;
            case HOLE -> Nbd.STATE_HOLE | Nbd.STATE_ZERO;
        };
    }
}

package cgw.nbd.transmission;

import cgw.nbd.export.ChangeRun;
import cgw.nbd.export.ChangedSince;
import cgw.nbd.export.Export;
import cgw.nbd.export.ExportInfo;
import cgw.nbd.wire.Command;
import cgw.nbd.wire.Nbd;
import cgw.nbd.wire.NbdError;
import cgw.store.Extent;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands each validated request to the export and writes its reply when the export completes it,
 * in completion order (replies may overtake each other, as the protocol allows); then returns the
 * request's credit to {@link FlowControl}. Closes the export once the connection is gone and
 * every request it took is answered, and closes the connection on anything it cannot answer.
 *
 * <p>Threads: every field is the channel's event loop's. Export completions arrive on store
 * threads and come back through {@link LoopHop} before touching anything; the event loop never
 * waits for the store.
 */
final class ExportDispatcher extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(ExportDispatcher.class);

    private final Export export;
    private final ExportInfo info;
    private final boolean structured;
    private final MetaContexts contexts;
    private final FlowControl flow;
    private final LoopHop loop = new LoopHop();

    private boolean inactive;
    private boolean exportClosed;

    ExportDispatcher(Export export, boolean structured, MetaContexts contexts, FlowControl flow) {
        this.export = export;
        this.info = export.info();
        this.structured = structured;
        this.contexts = contexts;
        this.flow = flow;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Request r = (Request) msg;
        Command command = Command.of(r.type());
        boolean fua = (r.flags() & Nbd.CMD_FLAG_FUA) != 0;
        switch (command) {
            case READ -> read(ctx, r);
            case WRITE -> {
                ByteBuf payload = Objects.requireNonNull(r.payload(), "a write without its payload");
                CompletableFuture<Void> done = r.length() == 0
                        ? CompletableFuture.completedFuture(null)
                        : export.write(r.offset(), payload.nioBuffer(), fua);
                done.whenComplete((v, failure) -> loop.run(ctx, () -> {
                    payload.release();
                    finish(ctx, r, command, failure);
                }, payload));
            }
            case FLUSH -> complete(ctx, r, command, export.flush());
            case TRIM -> complete(ctx, r, command, r.length() == 0
                    ? CompletableFuture.completedFuture(null)
                    : export.trim(r.offset(), r.length(), fua));
            case WRITE_ZEROES -> complete(ctx, r, command, r.length() == 0
                    ? CompletableFuture.completedFuture(null)
                    : export.writeZeroes(r.offset(), r.length(), fua, (r.flags() & Nbd.CMD_FLAG_NO_HOLE) == 0));
            case CACHE -> complete(ctx, r, command, r.length() == 0
                    ? CompletableFuture.completedFuture(null)
                    : export.cache(r.offset(), r.length()));
            case BLOCK_STATUS -> blockStatus(ctx, r);
            default -> throw new IllegalStateException("not dispatched: " + command);
        }
    }

    private void complete(ChannelHandlerContext ctx, Request r, Command command, CompletableFuture<?> done) {
        done.whenComplete((v, failure) -> loop.run(ctx, () -> finish(ctx, r, command, failure), null));
    }

    /** Replies to a request that carries no data back, and lets the next ones in. */
    private void finish(ChannelHandlerContext ctx, Request r, Command command, Throwable failure) {
        answered(r, failure == null
                ? ctx.write(Replies.simple(ctx.alloc(), r.cookie(), 0))
                : replyFailure(ctx, r, command, failure));
    }

    private void read(ChannelHandlerContext ctx, Request r) {
        int length = (int) r.length();
        if (length == 0) {
            answered(r, ctx.write(structured
                    ? Replies.none(ctx.alloc(), r.cookie())
                    : Replies.simple(ctx.alloc(), r.cookie(), 0)));
            return;
        }
        int prefix = structured ? Replies.DATA_CHUNK_PREFIX_BYTES : Nbd.SIMPLE_REPLY_HEADER_BYTES;
        ByteBuf reply = ctx.alloc().directBuffer(prefix + length);
        ByteBuffer data = reply.nioBuffer(prefix, length);
        export.read(r.offset(), data).whenComplete((v, failure) -> loop.run(ctx, () -> {
            ChannelFuture written;
            if (failure != null) {
                reply.release();
                written = replyFailure(ctx, r, Command.READ, failure);
            } else if (!structured) {
                Replies.writeSimpleHeader(reply.writerIndex(0), r.cookie(), 0);
                written = ctx.write(reply.writerIndex(prefix + length));
            } else {
                written = ctx.write(StructuredReads.encode(ctx.alloc(), r, reply, length));
            }
            answered(r, written);
        }, reply));
    }

    /** One chunk per negotiated context, the last one flagged done; any failure answers the whole request. */
    private void blockStatus(ChannelHandlerContext ctx, Request r) {
        long length = Math.min(r.length(), BlockStatusReplies.MAX_STATUS_BYTES);
        boolean reqOne = (r.flags() & Nbd.CMD_FLAG_REQ_ONE) != 0;
        ChangedSince changes = contexts.changes();
        CompletableFuture<List<Extent>> allocation = contexts.allocationId() == 0
                ? CompletableFuture.completedFuture(List.of())
                : export.extents(r.offset(), length);
        CompletableFuture<List<ChangeRun>> changed = changes == null
                ? CompletableFuture.completedFuture(List.of())
                : export.changes(changes, r.offset(), length);
        allocation.thenCombine(changed, Status::new).whenComplete((status, failure) -> loop.run(ctx, () -> {
            if (failure != null) {
                answered(r, replyFailure(ctx, r, Command.BLOCK_STATUS, failure));
                return;
            }
            ChannelFuture last = null;
            if (contexts.allocationId() != 0) {
                last = ctx.write(BlockStatusReplies.allocation(ctx.alloc(), r.cookie(), contexts.allocationId(),
                        status.extents(), reqOne, changes == null));
            }
            if (changes != null) {
                last = ctx.write(BlockStatusReplies.changes(ctx.alloc(), r.cookie(), contexts.changesId(),
                        status.runs(), reqOne));
            }
            answered(r, Objects.requireNonNull(last, "the validator lets BLOCK_STATUS through with a context"));
        }, null));
    }

    /** What BLOCK_STATUS found in each context. */
    private record Status(List<Extent> extents, List<ChangeRun> runs) {
    }

    private ChannelFuture replyFailure(ChannelHandlerContext ctx, Request r, Command command, Throwable failure) {
        NbdError error = NbdErrors.of(failure, command.writesData());
        Throwable cause = NbdErrors.unwrap(failure);
        if (error == NbdError.EIO) {
            log.warn("{}: {} at {} +{} failed", info.name(), command, r.offset(), r.length(), cause);
        } else {
            log.debug("{}: {} at {} +{} failed: {}", info.name(), command, r.offset(), r.length(), cause.toString());
        }
        return ctx.write(Replies.error(ctx.alloc(), structured, r.cookie(), error, String.valueOf(cause.getMessage())));
    }

    /**
     * The reply to {@code r} is handed to the channel ({@code written} completes once it is on the
     * socket): its credit goes back, and the export closes if it was the last.
     */
    private void answered(Request r, ChannelFuture written) {
        flow.returnCredit(r, written);
        closeExportWhenDone();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        ctx.flush(); // replies written while reading (refusals, empty reads)
        super.channelReadComplete(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        inactive = true;
        closeExportWhenDone();
        super.channelInactive(ctx);
    }

    private void closeExportWhenDone() {
        if (inactive && flow.idle() && !exportClosed) {
            exportClosed = true;
            export.close();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            log.debug("{}: connection error: {}", info.name(), cause.toString());
        } else if (cause instanceof DecoderException) {
            log.warn("{}: protocol violation, closing the connection: {}", info.name(), cause.getMessage());
        } else {
            log.error("{}: unexpected failure, closing the connection", info.name(), cause);
        }
        ctx.close();
    }
}

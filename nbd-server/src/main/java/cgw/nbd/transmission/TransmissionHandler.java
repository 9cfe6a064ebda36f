package cgw.nbd.transmission;

import cgw.nbd.export.Export;
import cgw.nbd.export.ExportInfo;
import cgw.nbd.wire.Command;
import cgw.nbd.wire.Nbd;
import cgw.nbd.wire.NbdError;
import cgw.store.Extent;
import cgw.store.ExtentType;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the transmission phase of one connection: validates each request once, hands it to the
 * export, and sends its reply when the export completes it, in completion order (replies may
 * overtake each other, as the protocol allows). Bounds the requests and payload bytes in flight:
 * past either limit the connection stops reading until half of them are answered.
 *
 * <p>Threads: every field is owned by the channel's event loop, but for the completion queue.
 * Export completions arrive on store threads and hop back to the event loop through that queue
 * before touching anything else; the event loop never waits for the store.
 */
public final class TransmissionHandler extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(TransmissionHandler.class);

    /** Structured reads at least this long are answered with hole chunks for long zero runs. */
    static final int SPARSE_READ_MIN_BYTES = 64 << 10;
    /** Zero runs shorter than this stay inside data chunks. */
    static final int MIN_HOLE_BYTES = 64 << 10;
    static final int HOLE_GRANULE_BYTES = 4096;
    /** One BLOCK_STATUS answers for at most this much; the client asks again for the rest. */
    static final long MAX_STATUS_BYTES = 1L << 30;
    /** A reply at least this long, completed on the event loop, is flushed at once ({@link #onLoop}). */
    static final int FLUSH_AT_ONCE_BYTES = 64 << 10;

    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(HOLE_GRANULE_BYTES).asReadOnlyBuffer();

    private final Export export;
    private final ExportInfo info;
    private final boolean structured;
    /** The id of the negotiated base:allocation context, 0 when none. */
    private final int allocationContextId;
    private final int maxPayloadBytes;
    private final int maxInFlightRequests;
    private final long maxInFlightBytes;
    /** Requests in flight on every connection of the server, for a graceful close. */
    private final AtomicLong serverInFlight;

    /** Completions from store threads waiting for the event loop; see {@link #onLoop}. */
    private final java.util.Queue<Completion> completions = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final java.util.concurrent.atomic.AtomicBoolean drainScheduled = new java.util.concurrent.atomic.AtomicBoolean();

    private int inFlight;
    private long inFlightBytes;
    private boolean paused;
    private boolean disconnecting;
    private boolean inactive;
    private boolean exportClosed;

    public TransmissionHandler(Export export, boolean structured, int allocationContextId, int maxPayloadBytes,
                               int maxInFlightRequests, long maxInFlightBytes, AtomicLong serverInFlight) {
        this.serverInFlight = serverInFlight;
        this.export = export;
        this.info = export.info();
        this.structured = structured;
        this.allocationContextId = allocationContextId;
        this.maxPayloadBytes = maxPayloadBytes;
        this.maxInFlightRequests = maxInFlightRequests;
        this.maxInFlightBytes = maxInFlightBytes;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Request request = (Request) msg;
        if (disconnecting) {
            release(request.payload());
            return;
        }
        Command command = Command.of(request.type());
        if (command == Command.DISC) {
            log.debug("{}: client disconnects after {} requests in flight", info.name(), inFlight);
            disconnecting = true;
            ctx.channel().config().setAutoRead(false);
            closeWhenIdle(ctx);
            return;
        }
        Rejection rejection = validate(command, request);
        if (rejection != null) {
            release(request.payload());
            log.debug("{}: rejected {} at {} +{}: {}", info.name(), command, request.offset(), request.length(),
                    rejection.message());
            reply(ctx, request, rejection.error(), rejection.message());
            return;
        }
        dispatch(ctx, command, request);
    }

    // ---------------------------------------------------------------- validation (once, at the edge)

    /** Why a request is refused: the error value and a message naming the field. */
    private record Rejection(NbdError error, String message) {
    }

    /** Why the request is refused, or null when it may proceed. */
    private Rejection validate(Command command, Request r) {
        if (command == Command.UNKNOWN) {
            return new Rejection(NbdError.EINVAL, "unknown command type " + r.type());
        }
        int allowed = switch (command) {
            case READ -> Nbd.CMD_FLAG_FUA | (structured ? Nbd.CMD_FLAG_DF : 0);
            case WRITE_ZEROES -> Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_NO_HOLE | Nbd.CMD_FLAG_FAST_ZERO;
            case BLOCK_STATUS -> Nbd.CMD_FLAG_FUA | Nbd.CMD_FLAG_REQ_ONE;
            default -> Nbd.CMD_FLAG_FUA;
        };
        if ((r.flags() & ~allowed) != 0) {
            return new Rejection(NbdError.EINVAL, String.format("flags 0x%x not valid for %s", r.flags() & ~allowed, command));
        }
        boolean writing = command == Command.WRITE || command == Command.TRIM || command == Command.WRITE_ZEROES;
        if (writing && info.readOnly()) {
            return new Rejection(NbdError.EPERM, "export " + info.name() + " is read-only");
        }
        if (command == Command.FLUSH) {
            return r.offset() != 0 || r.length() != 0
                    ? new Rejection(NbdError.EINVAL, "flush offset and length must be 0") : null;
        }
        if (r.oversized() || command == Command.READ && r.length() > maxPayloadBytes) {
            return new Rejection(NbdError.EINVAL, command + " of " + r.length()
                    + " bytes exceeds the maximum payload of " + maxPayloadBytes);
        }
        long size = info.sizeBytes();
        if (Long.compareUnsigned(r.offset(), size) > 0 || r.length() > size - r.offset()) {
            NbdError error = command == Command.WRITE || command == Command.WRITE_ZEROES ? NbdError.ENOSPC : NbdError.EINVAL;
            return new Rejection(error, "range offset " + Long.toUnsignedString(r.offset()) + " length " + r.length()
                    + " is past the end of the export (" + size + " bytes)");
        }
        if (command == Command.BLOCK_STATUS && allocationContextId == 0) {
            return new Rejection(NbdError.EINVAL, "block status without a negotiated base:allocation context");
        }
        if (command == Command.BLOCK_STATUS && r.length() == 0) {
            return new Rejection(NbdError.EINVAL, "block status of length 0");
        }
        return null;
    }

    // ---------------------------------------------------------------- dispatch and completion

    private void dispatch(ChannelHandlerContext ctx, Command command, Request r) {
        long cost = command == Command.READ || command == Command.WRITE ? r.length() : 0;
        admit(ctx, cost);
        boolean fua = (r.flags() & Nbd.CMD_FLAG_FUA) != 0;
        switch (command) {
            case READ -> read(ctx, r, cost);
            case WRITE -> {
                ByteBuf payload = r.payload();
                CompletableFuture<Void> done = r.length() == 0 ? CompletableFuture.completedFuture(null)
                        : export.write(r.offset(), payload.nioBuffer(), fua);
                done.whenComplete((v, failure) -> onLoop(ctx, () -> {
                    payload.release();
                    finish(ctx, r, command, failure, cost);
                }, payload));
            }
            case FLUSH -> complete(ctx, r, command, export.flush(), cost);
            case TRIM -> complete(ctx, r, command, r.length() == 0 ? CompletableFuture.completedFuture(null)
                    : export.trim(r.offset(), r.length(), fua), cost);
            case WRITE_ZEROES -> complete(ctx, r, command, r.length() == 0 ? CompletableFuture.completedFuture(null)
                    : export.writeZeroes(r.offset(), r.length(), fua, (r.flags() & Nbd.CMD_FLAG_NO_HOLE) == 0), cost);
            case CACHE -> complete(ctx, r, command, r.length() == 0 ? CompletableFuture.completedFuture(null)
                    : export.cache(r.offset(), r.length()), cost);
            case BLOCK_STATUS -> blockStatus(ctx, r, cost);
            default -> throw new IllegalStateException("not dispatched: " + command);
        }
    }

    private void complete(ChannelHandlerContext ctx, Request r, Command command, CompletableFuture<?> done, long cost) {
        done.whenComplete((v, failure) -> onLoop(ctx, () -> finish(ctx, r, command, failure, cost), null));
    }

    /** Replies to a request that carries no data back, and lets the next ones in. */
    private void finish(ChannelHandlerContext ctx, Request r, Command command, Throwable failure, long cost) {
        if (failure == null) {
            reply(ctx, r, null, null);
        } else {
            replyFailure(ctx, r, command, failure);
        }
        release(ctx, cost);
    }

    private void read(ChannelHandlerContext ctx, Request r, long cost) {
        int length = (int) r.length();
        if (length == 0) {
            ctx.write(structured ? Replies.none(ctx.alloc(), r.cookie())
                    : Replies.simple(ctx.alloc(), r.cookie(), 0));
            release(ctx, cost);
            return;
        }
        int prefix = structured ? Replies.DATA_CHUNK_PREFIX_BYTES : Nbd.SIMPLE_REPLY_HEADER_BYTES;
        ByteBuf reply = ctx.alloc().directBuffer(prefix + length);
        ByteBuffer data = reply.nioBuffer(prefix, length);
        export.read(r.offset(), data).whenComplete((v, failure) -> onLoop(ctx, () -> {
            if (failure != null) {
                reply.release();
                replyFailure(ctx, r, Command.READ, failure);
            } else if (!structured) {
                Replies.writeSimpleHeader(reply.writerIndex(0), r.cookie(), 0);
                ctx.write(reply.writerIndex(prefix + length));
            } else {
                ctx.write(structuredRead(ctx, r, reply, prefix, length));
            }
            release(ctx, cost);
        }, reply));
    }

    /**
     * The chunks of a structured read: one OFFSET_DATA chunk, or, for a long read without DF,
     * data chunks and OFFSET_HOLE chunks for zero runs of at least {@link #MIN_HOLE_BYTES}.
     */
    private ByteBuf structuredRead(ChannelHandlerContext ctx, Request r, ByteBuf reply, int prefix, int length) {
        boolean dontFragment = (r.flags() & Nbd.CMD_FLAG_DF) != 0;
        if (dontFragment || length < SPARSE_READ_MIN_BYTES) {
            Replies.writeDataPrefix(reply.writerIndex(0), r.cookie(), true, r.offset(), length);
            return reply.writerIndex(prefix + length);
        }
        ByteBuffer data = reply.nioBuffer(prefix, length);
        // granules aligned to the export: the first may be short
        long[] runs = new long[16]; // (start, end, zero) triples
        int count = 0;
        int at = 0;
        while (at < length) {
            int granule = (int) Math.min(length - at, HOLE_GRANULE_BYTES - ((r.offset() + at) % HOLE_GRANULE_BYTES));
            // most granules of data show it in their first bytes: no slices, no scan
            boolean zero = (granule < Long.BYTES || data.getLong(at) == 0)
                    && data.slice(at, granule).mismatch(ZEROS.slice(0, granule)) == -1;
            if (count > 0 && (runs[3 * count - 1] == 1) == zero) {
                runs[3 * count - 2] = at + granule;
            } else {
                if (3 * count + 3 > runs.length) {
                    runs = java.util.Arrays.copyOf(runs, runs.length * 2);
                }
                runs[3 * count] = at;
                runs[3 * count + 1] = at + granule;
                runs[3 * count + 2] = zero ? 1 : 0;
                count++;
            }
            at += granule;
        }
        // short zero runs are cheaper as data: fold them into their neighbours
        CompositeByteBuf out = ctx.alloc().compositeDirectBuffer(Math.max(2, count * 2));
        int dataStart = -1;
        for (int i = 0; i < count; i++) {
            int start = (int) runs[3 * i];
            int end = (int) runs[3 * i + 1];
            boolean hole = runs[3 * i + 2] == 1 && end - start >= MIN_HOLE_BYTES;
            if (!hole) {
                if (dataStart < 0) {
                    dataStart = start;
                }
                continue;
            }
            if (dataStart >= 0) {
                addData(ctx, out, r, reply, prefix, dataStart, start, false);
                dataStart = -1;
            }
            out.addComponent(true, Replies.hole(ctx.alloc(), r.cookie(), end == length, r.offset() + start, end - start));
        }
        if (dataStart >= 0) {
            addData(ctx, out, r, reply, prefix, dataStart, length, true);
        }
        reply.release();
        return out;
    }

    private static void addData(ChannelHandlerContext ctx, CompositeByteBuf out, Request r, ByteBuf reply, int prefix,
                                int start, int end, boolean done) {
        out.addComponent(true, Replies.dataPrefix(ctx.alloc(), r.cookie(), done, r.offset() + start, end - start));
        out.addComponent(true, reply.retainedSlice(prefix + start, end - start));
    }

    private void blockStatus(ChannelHandlerContext ctx, Request r, long cost) {
        long length = Math.min(r.length(), MAX_STATUS_BYTES);
        boolean reqOne = (r.flags() & Nbd.CMD_FLAG_REQ_ONE) != 0;
        export.extents(r.offset(), length).whenComplete((extents, failure) -> onLoop(ctx, () -> {
            if (failure != null) {
                replyFailure(ctx, r, Command.BLOCK_STATUS, failure);
            } else {
                ctx.write(statusChunk(ctx, r, extents, reqOne));
            }
            release(ctx, cost);
        }, null));
    }

    private ByteBuf statusChunk(ChannelHandlerContext ctx, Request r, List<Extent> extents, boolean reqOne) {
        int descriptors = reqOne ? 1 : extents.size();
        ByteBuf out = ctx.alloc().directBuffer(Nbd.STRUCTURED_REPLY_HEADER_BYTES + 4 + 8 * descriptors);
        Replies.writeChunkHeader(out, Nbd.REPLY_FLAG_DONE, Nbd.REPLY_TYPE_BLOCK_STATUS, r.cookie(), 4 + 8L * descriptors);
        out.writeInt(allocationContextId);
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

    // ---------------------------------------------------------------- replies

    /** A reply without data: success ({@code error} null) or a refusal with its reason. */
    private void reply(ChannelHandlerContext ctx, Request r, NbdError error, String message) {
        if (error == null) {
            ctx.write(Replies.simple(ctx.alloc(), r.cookie(), 0));
        } else if (structured) {
            ctx.write(Replies.error(ctx.alloc(), r.cookie(), error.code, message));
        } else {
            ctx.write(Replies.simple(ctx.alloc(), r.cookie(), error.code));
        }
    }

    private void replyFailure(ChannelHandlerContext ctx, Request r, Command command, Throwable failure) {
        boolean writing = command == Command.WRITE || command == Command.WRITE_ZEROES;
        NbdError error = NbdErrors.of(failure, writing);
        Throwable cause = NbdErrors.unwrap(failure);
        if (error == NbdError.EIO) {
            log.warn("{}: {} at {} +{} failed", info.name(), command, r.offset(), r.length(), cause);
        } else {
            log.debug("{}: {} at {} +{} failed: {}", info.name(), command, r.offset(), r.length(), cause.toString());
        }
        reply(ctx, r, error, String.valueOf(cause.getMessage()));
    }

    // ---------------------------------------------------------------- flow control and lifecycle

    private void admit(ChannelHandlerContext ctx, long cost) {
        serverInFlight.incrementAndGet();
        inFlight++;
        inFlightBytes += cost;
        if (!paused && (inFlight >= maxInFlightRequests || inFlightBytes >= maxInFlightBytes)) {
            paused = true;
            ctx.channel().config().setAutoRead(false);
        }
    }

    private void release(ChannelHandlerContext ctx, long cost) {
        serverInFlight.decrementAndGet();
        inFlight--;
        inFlightBytes -= cost;
        if (paused && !disconnecting && inFlight <= maxInFlightRequests / 2 && inFlightBytes <= maxInFlightBytes / 2) {
            paused = false;
            ctx.channel().config().setAutoRead(true);
        }
        closeWhenIdle(ctx);
        closeExportWhenDone();
    }

    private void closeWhenIdle(ChannelHandlerContext ctx) {
        if (disconnecting && inFlight == 0 && ctx.channel().isActive()) {
            // replies still unflushed go out first
            ctx.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(io.netty.channel.ChannelFutureListener.CLOSE);
        }
    }

    /** A completion waiting for the event loop, and the buffer it must free if it never runs. */
    private record Completion(Runnable task, ByteBuf owned) {
    }

    /**
     * Runs a completion on the event loop. From a store thread it is queued; completions that
     * arrive while a drain is pending join it, so under load many replies cost one wake-up of the
     * loop and one flush. On the loop (a read served there, a request refused at once) it runs at
     * once, and a long reply is flushed at once too, while the bytes just read are still in the
     * CPU's cache; short ones go out with the next flush.
     */
    private void onLoop(ChannelHandlerContext ctx, Runnable task, ByteBuf owned) {
        if (ctx.executor().inEventLoop()) {
            task.run();
            if (owned != null && owned.capacity() >= FLUSH_AT_ONCE_BYTES) {
                ctx.flush();
            }
            return;
        }
        completions.add(new Completion(task, owned));
        if (drainScheduled.compareAndSet(false, true)) {
            try {
                ctx.executor().execute(() -> drain(ctx));
            } catch (RejectedExecutionException e) {
                log.debug("event loop gone; dropping completions", e);
                for (Completion c; (c = completions.poll()) != null; ) {
                    release(c.owned());
                }
            }
        }
    }

    /** Runs queued completions on the event loop, then flushes their replies at once. */
    private void drain(ChannelHandlerContext ctx) {
        drainScheduled.set(false);
        for (Completion c; (c = completions.poll()) != null; ) {
            c.task().run();
        }
        ctx.flush();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) throws Exception {
        ctx.flush(); // replies written while reading (refusals, empty reads)
        super.channelReadComplete(ctx);
    }

    private static void release(ByteBuf buffer) {
        if (buffer != null) {
            buffer.release();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        inactive = true;
        closeExportWhenDone();
        super.channelInactive(ctx);
    }

    private void closeExportWhenDone() {
        if (inactive && inFlight == 0 && !exportClosed) {
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
            log.warn("{}: unexpected failure, closing the connection", info.name(), cause);
        }
        ctx.close();
    }
}

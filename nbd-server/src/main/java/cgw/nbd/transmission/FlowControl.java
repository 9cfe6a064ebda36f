package cgw.nbd.transmission;

import cgw.host.InFlight;
import cgw.nbd.wire.Command;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bounds what one connection has in flight: each request passed on takes a credit (one request,
 * and its payload bytes for READ and WRITE), returned by the dispatcher once the reply is written;
 * the bytes leave the memory budget once the reply has left for the socket.
 * Past either bound the connection stops reading until half of it is returned. Replies that the
 * client does not read pile up in the channel only to its high water mark: past it the connection
 * stops reading too, and one that stays so for the stall timeout is closed. On
 * {@code NBD_CMD_DISC} it stops reading for good and closes the connection once the last reply
 * is out.
 *
 * <p>Threads: the channel's event loop only; one instance per connection. Never drops, delays
 * or reorders a request: it only turns the channel's reading off and on.
 */
final class FlowControl extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(FlowControl.class);

    private final String exportName;
    private final int maxInFlightRequests;
    private final long maxInFlightBytes;
    /** Requests in flight on every connection of the server, for a graceful close. */
    private final InFlight serverInFlight;
    private final ReadGate gate;
    private final ConnectionMemory memory;
    private final long stallTimeoutMs;

    private @Nullable ChannelHandlerContext context;
    private int inFlight;
    private long inFlightBytes;
    /** A read waiting for the memory budget; reading is shut meanwhile, so it is the only one. */
    private @Nullable Request parked;
    private boolean disconnecting;
    /** Counts the times the channel turned unwritable, so a stall check knows its own episode. */
    private long unwritableEpisode;

    FlowControl(String exportName, int maxInFlightRequests, long maxInFlightBytes, InFlight serverInFlight,
            ReadGate gate, ConnectionMemory memory, long stallTimeoutMs) {
        this.memory = memory;
        this.exportName = exportName;
        this.maxInFlightRequests = maxInFlightRequests;
        this.maxInFlightBytes = maxInFlightBytes;
        this.serverInFlight = serverInFlight;
        this.gate = gate;
        this.stallTimeoutMs = stallTimeoutMs;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.context = ctx;
    }

    /** This handler's context: requests reach it only once it is in a pipeline. */
    private ChannelHandlerContext ctx() {
        ChannelHandlerContext ctx = context;
        if (ctx == null) {
            throw new IllegalStateException("flow control of " + exportName + " is not in a pipeline");
        }
        return ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Request request = (Request) msg;
        if (Command.of(request.type()) == Command.DISC) {
            log.debug("{}: client disconnects after {} requests in flight", exportName, inFlight);
            disconnecting = true;
            gate.shut(ReadGate.Reason.DISCONNECT);
            closeWhenIdle();
            return;
        }
        if (Command.of(request.type()) == Command.READ && request.length() > 0) {
            // a read's reply buffer is allocated when it is dispatched: its memory is admitted first
            if (!memory.tryReserve(ctx, request.length(), () -> admitParked(ctx))) {
                parked = request;
                return;
            }
            takeCredit(ctx, 0, request.length());
        } else {
            takeCredit(ctx, costBytes(request), costBytes(request));
        }
        ctx.fireChannelRead(request);
    }

    /** Passes on the read that waited for memory, once the budget admits it; reading resumes after it. */
    private void admitParked(ChannelHandlerContext ctx) {
        Request request = parked;
        if (request == null || !ctx.channel().isOpen()) {
            gate.open(ReadGate.Reason.MEMORY);
            return;
        }
        if (memory.tryReserve(ctx, request.length(), () -> admitParked(ctx))) {
            parked = null;
            takeCredit(ctx, 0, request.length());
            ctx.fireChannelRead(request); // before the gate opens: the requests after it come after it
            gate.open(ReadGate.Reason.MEMORY);
        }
    }

    /** The payload bytes a request holds while in flight: a WRITE's data in, a READ's out. */
    private static long costBytes(Request request) {
        Command command = Command.of(request.type());
        return command == Command.READ || command == Command.WRITE ? request.length() : 0;
    }

    /** Takes a request's credit; {@code unreservedBytes} are counted against the memory budget here. */
    private void takeCredit(ChannelHandlerContext ctx, long unreservedBytes, long costBytes) {
        serverInFlight.enter();
        inFlight++;
        inFlightBytes += costBytes;
        if (unreservedBytes > 0) {
            memory.reserve(ctx, unreservedBytes);
        }
        if (inFlight >= maxInFlightRequests || inFlightBytes >= maxInFlightBytes) {
            gate.shut(ReadGate.Reason.CREDITS);
        }
    }

    /**
     * The reply to {@code request} is handed to the channel: its credit comes back, and reading may
     * resume. Its bytes stay counted against the memory budget until {@code written} completes: a
     * reply the client does not read still holds its buffer.
     */
    void returnCredit(Request request, ChannelFuture written) {
        serverInFlight.exit();
        inFlight--;
        long cost = costBytes(request);
        inFlightBytes -= cost;
        if (cost > 0) {
            written.addListener(done -> memory.release(cost));
        }
        if (gate.isShutFor(ReadGate.Reason.CREDITS) && inFlight <= maxInFlightRequests / 2
                && inFlightBytes <= maxInFlightBytes / 2) {
            gate.open(ReadGate.Reason.CREDITS);
        }
        closeWhenIdle();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (!ctx.channel().isWritable()) {
            gate.shut(ReadGate.Reason.UNSENT_REPLIES);
            checkStallLater(ctx, ++unwritableEpisode, ctx.channel().bytesBeforeWritable());
        } else {
            gate.open(ReadGate.Reason.UNSENT_REPLIES);
        }
        ctx.fireChannelWritabilityChanged();
    }

    /**
     * After the stall timeout, closes the connection if it is still unwritable (the same
     * {@code episode}) and its queued replies did not drain at all meanwhile: a slow reader goes
     * on, one that stopped reading is cut off.
     */
    private void checkStallLater(ChannelHandlerContext ctx, long episode, long queuedBytes) {
        ctx.executor().schedule(() -> {
            if (episode != unwritableEpisode || ctx.channel().isWritable() || !ctx.channel().isOpen()) {
                return;
            }
            long stillQueued = ctx.channel().bytesBeforeWritable();
            if (stillQueued < queuedBytes) {
                checkStallLater(ctx, episode, stillQueued);
                return;
            }
            log.info("{}: closing the connection from {}: it has not read its replies for {} ms", exportName,
                    ctx.channel().remoteAddress(), stallTimeoutMs);
            ctx.close();
        }, stallTimeoutMs, TimeUnit.MILLISECONDS);
    }

    /** Whether every request passed on has been answered. */
    boolean idle() {
        return inFlight == 0;
    }

    private void closeWhenIdle() {
        if (disconnecting && inFlight == 0 && ctx().channel().isActive()) {
            // replies still unflushed go out first
            ctx().writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }
}

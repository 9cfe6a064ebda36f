package cgw.api;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The two clocks of a REST connection: idle between requests ({@link RestLimits#idleTimeoutMs})
 * and receiving one ({@link RestLimits#requestTimeoutMs}, from its first byte until
 * {@link RestHandler} has it whole). While the gateway works on a request neither runs. First in
 * the pipeline after TLS, so it sees every byte as it comes.
 *
 * <p>Threads: the channel's event loop only; one per connection.
 */
final class RestTimeouts extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(RestTimeouts.class);

    private enum State {
        IDLE,
        RECEIVING,
        BUSY
    }

    private final RestLimits limits;
    private @Nullable ChannelHandlerContext context;
    private State state = State.IDLE;
    private @Nullable ScheduledFuture<?> timer;

    RestTimeouts(RestLimits limits) {
        this.limits = limits;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        context = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        arm(ctx, limits.idleTimeoutMs(), "no request for");
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (state == State.IDLE) {
            state = State.RECEIVING;
            arm(ctx, limits.requestTimeoutMs(), "a request still incomplete after");
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        cancel();
        super.channelInactive(ctx);
    }

    /** A whole request reached the handler: the gateway's turn, no clock. */
    void received() {
        state = State.BUSY;
        cancel();
    }

    /** The last reply is out and no request waits: the idle clock runs. */
    void idle() {
        ChannelHandlerContext ctx = context;
        if (ctx != null && state == State.BUSY) {
            state = State.IDLE;
            arm(ctx, limits.idleTimeoutMs(), "no request for");
        }
    }

    private void arm(ChannelHandlerContext ctx, long timeoutMs, String why) {
        cancel();
        timer = ctx.executor().schedule(() -> {
            log.debug("closing REST connection from {}: {} {} ms", ctx.channel().remoteAddress(), why, timeoutMs);
            ctx.close();
        }, timeoutMs, TimeUnit.MILLISECONDS);
    }

    private void cancel() {
        ScheduledFuture<?> pending = timer;
        if (pending != null) {
            pending.cancel(false);
            timer = null;
        }
    }
}

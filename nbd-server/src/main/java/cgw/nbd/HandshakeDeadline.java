package cgw.nbd;

import io.netty.channel.ChannelHandlerAdapter;
import io.netty.channel.ChannelHandlerContext;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Closes a connection that has not chosen an export within the handshake timeout of its accept,
 * however it trickles bytes meanwhile. Removed (and its timer cancelled) when transmission starts.
 *
 * <p>Threads: the channel's event loop only; one per connection.
 */
final class HandshakeDeadline extends ChannelHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(HandshakeDeadline.class);

    private final long timeoutMs;
    private @Nullable ScheduledFuture<?> deadline;

    HandshakeDeadline(long timeoutMs) {
        this.timeoutMs = timeoutMs;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        deadline = ctx.executor().schedule(() -> {
            log.info("closing NBD connection from {}: no export chosen within {} ms", ctx.channel().remoteAddress(),
                    timeoutMs);
            ctx.close();
        }, timeoutMs, TimeUnit.MILLISECONDS);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        ScheduledFuture<?> pending = deadline;
        if (pending != null) {
            pending.cancel(false);
        }
    }
}

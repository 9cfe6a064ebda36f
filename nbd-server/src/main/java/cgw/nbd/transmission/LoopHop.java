package cgw.nbd.transmission;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.ReferenceCountUtil;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings export completions back to the connection's event loop. From a store thread a
 * completion is queued; completions that arrive while a drain is pending join it, so under load
 * many replies cost one wake-up of the loop and one flush. On the loop (a read served there, a
 * request refused at once) it runs at once, and a long reply is flushed at once too, while the
 * bytes just read are still in the CPU's cache; short ones go out with the next flush.
 *
 * <p>Threads: {@link #run} from any thread; tasks run on the event loop only. Never blocks the
 * caller, and never loses a buffer: a completion the loop can no longer take frees its buffer.
 */
final class LoopHop {
    private static final Logger log = LoggerFactory.getLogger(LoopHop.class);

    /** A reply at least this long, completed on the event loop, is flushed at once. */
    static final int FLUSH_AT_ONCE_BYTES = 64 << 10;

    /** A completion waiting for the event loop, and the buffer it must free if it never runs. */
    private record Completion(Runnable task, @Nullable ByteBuf owned) {
    }

    private final Queue<Completion> completions = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean drainScheduled = new AtomicBoolean();

    /** Runs {@code task} on {@code ctx}'s event loop; {@code owned}, if not null, is freed if it cannot run. */
    void run(ChannelHandlerContext ctx, Runnable task, @Nullable ByteBuf owned) {
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
                for (Completion c; (c = completions.poll()) != null;) {
                    ReferenceCountUtil.release(c.owned());
                }
            }
        }
    }

    /** Runs queued completions on the event loop, then flushes their replies at once. */
    private void drain(ChannelHandlerContext ctx) {
        drainScheduled.set(false);
        for (Completion c; (c = completions.poll()) != null;) {
            c.task().run();
        }
        ctx.flush();
    }
}

package cgw.nbd.transmission;

import io.netty.channel.ChannelHandlerContext;
import java.util.concurrent.TimeUnit;

/**
 * One connection's part of the server's {@link MemoryBudget}: what it holds, reserved and
 * released by the decoder (a streamed payload) and by flow control (requests in flight), whether
 * it is making progress (released something lately), and the waiting when the budget refuses it.
 *
 * <p>Threads: the connection's event loop only.
 */
final class ConnectionMemory {
    /** The window over which a connection must turn over what it holds to count as making progress. */
    static final long PROGRESS_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final MemoryBudget budget;
    private final ReadGate gate;
    private long held;
    /** Bytes released since the connection opened: replies sent, payloads done with. */
    private long released;
    private long windowStartNanos = System.nanoTime();
    private long releasedThisWindow;
    private long releasedLastWindow;
    private boolean waiting;

    ConnectionMemory(MemoryBudget budget, ReadGate gate) {
        this.budget = budget;
        this.gate = gate;
    }

    /**
     * Reserves {@code bytes} before they are allocated. When refused, shuts reading and runs
     * {@code retry} on the event loop once a release might admit them; {@code retry} tries again
     * and opens the gate (reason {@link ReadGate.Reason#MEMORY}) when it gets in.
     */
    boolean tryReserve(ChannelHandlerContext ctx, long bytes, Runnable retry) {
        if (budget.tryReserve(bytes, held, progressing())) {
            held += bytes;
            return true;
        }
        waitForMemory(ctx, bytes, retry);
        return false;
    }

    /** Counts bytes already allocated; past the budget, shuts reading until memory is released. */
    void reserve(ChannelHandlerContext ctx, long bytes) {
        budget.reserve(bytes);
        held += bytes;
        if (budget.isOverLimit()) {
            waitForMemory(ctx, 0, () -> gate.open(ReadGate.Reason.MEMORY));
        }
    }

    void release(long bytes) {
        held -= bytes;
        released += bytes;
        rollWindow();
        releasedThisWindow += bytes;
        budget.release(bytes);
    }

    long heldBytes() {
        return held;
    }

    long releasedBytes() {
        return released;
    }

    ReadGate gate() {
        return gate;
    }

    /**
     * Whether the connection released, over the last one to two seconds, at least what it holds
     * now (and something): it uses its memory rather than sits on it. Only such connections may
     * use the budget's last quarter; a client that trickles out a little of a large holding does not.
     */
    boolean progressing() {
        rollWindow();
        long recent = releasedThisWindow + releasedLastWindow;
        return recent > 0 && recent >= held;
    }

    private void rollWindow() {
        long elapsed = System.nanoTime() - windowStartNanos;
        if (elapsed >= PROGRESS_NANOS) {
            releasedLastWindow = elapsed < 2 * PROGRESS_NANOS ? releasedThisWindow : 0;
            releasedThisWindow = 0;
            windowStartNanos += elapsed;
        }
    }

    /** Shuts reading until a release would admit {@code bytes} more (0: until under the limit again). */
    private void waitForMemory(ChannelHandlerContext ctx, long bytes, Runnable retry) {
        gate.shut(ReadGate.Reason.MEMORY);
        if (!waiting) {
            waiting = true;
            budget.whenReleased(() -> ctx.executor().execute(() -> {
                waiting = false;
                retry.run(); // may wait again
            }), bytes, held, progressing());
        }
        budget.relief().waiting(ctx.executor());
    }
}

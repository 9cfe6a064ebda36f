package cgw.nbd.transmission;

import io.netty.channel.ChannelHandlerContext;

/**
 * One connection's part of the server's {@link MemoryBudget}: what it holds, reserved and
 * released by the decoder (a streamed payload) and by flow control (requests in flight), and the
 * waiting when the budget refuses it.
 *
 * <p>Threads: the connection's event loop only.
 */
final class ConnectionMemory {
    private final MemoryBudget budget;
    private final ReadGate gate;
    private long held;
    private boolean waiting;

    ConnectionMemory(MemoryBudget budget, ReadGate gate) {
        this.budget = budget;
        this.gate = gate;
    }

    /** Reserves {@code bytes} before they are allocated; when refused, shuts reading until memory is released. */
    boolean tryReserve(ChannelHandlerContext ctx, long bytes) {
        if (budget.tryReserve(bytes, held)) {
            held += bytes;
            return true;
        }
        waitForMemory(ctx, bytes);
        return false;
    }

    /** Counts bytes already allocated; past the budget, shuts reading until memory is released. */
    void reserve(ChannelHandlerContext ctx, long bytes) {
        budget.reserve(bytes);
        held += bytes;
        if (budget.isOverLimit()) {
            waitForMemory(ctx, 0);
        }
    }

    void release(long bytes) {
        held -= bytes;
        budget.release(bytes);
    }

    long heldBytes() {
        return held;
    }

    /** Shuts reading until a release would admit {@code bytes} more (0: until under the limit again). */
    private void waitForMemory(ChannelHandlerContext ctx, long bytes) {
        gate.shut(ReadGate.Reason.MEMORY);
        if (!waiting) {
            waiting = true;
            budget.whenReleased(() -> ctx.executor().execute(() -> {
                waiting = false;
                gate.open(ReadGate.Reason.MEMORY); // the decoder then tries again, and may wait again
            }), bytes, held);
        }
    }
}

package cgw.nbd.transmission;

import static cgw.nbd.transmission.Frames.request;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.nbd.Wire;
import cgw.nbd.wire.Command;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The server-wide memory budget: streamed payloads are admitted before they are allocated, big
 * holders stop at three quarters, a connection holding little still gets in, and a refused one
 * resumes when memory is released.
 */
@Timeout(30)
class MemoryBudgetTest {
    private static final int MIB = 1 << 20;
    private final MemoryBudget budget = new MemoryBudget(64L * MIB);
    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private final List<Request> decoded = new ArrayList<>();

    @AfterEach
    void close() {
        decoded.forEach(r -> {
            if (r.payload() != null) {
                r.payload().release();
            }
        });
        channels.forEach(EmbeddedChannel::finishAndReleaseAll);
    }

    private EmbeddedChannel connection() {
        EmbeddedChannel channel = new EmbeddedChannel();
        ReadGate gate = new ReadGate(channel);
        ConnectionMemory memory = new ConnectionMemory(budget, gate);
        RequestDecoder decoder = new RequestDecoder(32 * MIB, gate, memory, 30_000);
        channel.pipeline().addLast(decoder);
        budget.relief().watch(channel, decoder, memory);
        channels.add(channel);
        return channel;
    }

    /** The head of a write of {@code length} bytes and its first 1,000 bytes: streamed, not yet whole. */
    private static byte[] startOfWrite(long cookie, int length) {
        return Arrays.copyOf(request(Command.WRITE, 0, cookie, 0, length, new byte[length]), 28 + 1000);
    }

    private void take(EmbeddedChannel channel) {
        for (Object message; (message = channel.readInbound()) != null;) {
            decoded.add((Request) message);
        }
    }

    @Test
    void sharesLetTheSmallInWhenTheBigHaveTakenTheirThreeQuarters() {
        assertThat(budget.tryReserve(4 * MIB, 0, true)).as("a small share, any time there is room").isTrue();
        assertThat(budget.tryReserve(40 * MIB, 0, false)).as("big, while under three quarters").isTrue();
        assertThat(budget.tryReserve(8 * MIB, 40 * MIB, true)).as("big past three quarters").isFalse();
        assertThat(budget.tryReserve(5 * MIB, 0, false)).as("small but not moving, in the last quarter").isFalse();
        assertThat(budget.tryReserve(4 * MIB, 0, true)).as("small and moving, in the last quarter").isTrue();
        assertThat(budget.tryReserve(17 * MIB, 0, true)).as("never past the limit").isFalse();
        assertThat(budget.usedBytes()).isEqualTo(48L * MIB);
    }

    @Test
    void aPinnedCrowdCannotStarveAConnectionDoingItsUsualIo() {
        EmbeddedChannel first = connection();
        EmbeddedChannel second = connection();
        EmbeddedChannel bystander = connection();
        Wire.send(first, startOfWrite(1, 32 * MIB), false);
        assertThat(budget.usedBytes()).as("admitted before its buffer was allocated").isEqualTo(32L * MIB);
        Wire.send(second, startOfWrite(2, 32 * MIB), false);
        assertThat(budget.usedBytes()).as("the second would take the last quarter: it waits").isEqualTo(32L * MIB);
        assertThat(second.config().isAutoRead()).isFalse();

        byte[] small = request(Command.WRITE, 0, 3, 0, MIB, new byte[MIB]);
        Wire.send(bystander, small, false);
        take(bystander);
        assertThat(decoded).as("the bystander's 1 MiB write got in").hasSize(1);

        first.close(); // its payload stalled, say: closing releases it, and the waiting one goes on
        second.runPendingTasks();
        assertThat(second.config().isAutoRead()).isTrue();
        assertThat(budget.usedBytes()).as("the second's payload, now admitted").isEqualTo(32L * MIB);
    }

    /** Releases too small for the first waiter wake nobody: a crowd of waiters must not spin on a busy neighbour's releases. */
    @Test
    void aWaiterIsWokenOnlyOnceWhatItAskedForFits() {
        assertThat(budget.tryReserve(48 * MIB, 0, false)).isTrue();
        int[] woken = new int[1];
        budget.whenReleased(() -> woken[0]++, 8 * MIB, 0, false);
        budget.reserve(MIB);
        for (int i = 0; i < 100; i++) {
            budget.release(64 << 10);
            budget.reserve(64 << 10);
        }
        assertThat(woken[0]).as("a busy neighbour's releases").isZero();
        budget.release(9 * MIB);
        assertThat(woken[0]).isEqualTo(1);
        assertThat(budget.hasWaiters()).isFalse();
    }

    /** A VM doing its usual I/O is not queued behind a crowd's big requests that do not fit yet. */
    @Test
    void aSmallWaiterMakingProgressIsNotHeldUpBehindABigOne() {
        budget.reserve(60 * MIB);
        int[] woken = new int[2];
        budget.whenReleased(() -> woken[0]++, 32 * MIB, 0, false); // big: fits once under three quarters
        budget.whenReleased(() -> woken[1]++, MIB, 0, true); // small and moving: fits once there is room
        budget.release(4 * MIB);
        assertThat(woken).as("56 MiB used: room for the small one only").containsExactly(0, 1);
        budget.release(40 * MIB);
        assertThat(woken).containsExactly(1, 1);
    }

    /**
     * While a connection waits for memory, one that holds a payload it stopped sending is closed
     * after {@link PressureRelief#INTERVAL_MS}, long before the stall timeout, and the waiter gets in.
     */
    @Test
    void underPressureAConnectionSittingOnAPayloadIsClosedAndTheWaiterGoesOn() {
        EmbeddedChannel pinned = connection();
        EmbeddedChannel waiting = connection();
        waiting.freezeTime(); // the relief's clock runs on the waiter's event loop
        Wire.send(pinned, startOfWrite(1, 32 * MIB), false);
        Wire.send(waiting, startOfWrite(2, 32 * MIB), false);
        assertThat(waiting.config().isAutoRead()).as("waits: the first holds three quarters' worth").isFalse();
        pinned.runPendingTasks(); // the relief takes its marks

        waiting.advanceTimeBy(PressureRelief.INTERVAL_MS - 1, TimeUnit.MILLISECONDS);
        waiting.runScheduledPendingTasks();
        pinned.runPendingTasks();
        assertThat(pinned.isOpen()).as("not before the interval").isTrue();

        waiting.advanceTimeBy(1, TimeUnit.MILLISECONDS);
        waiting.runScheduledPendingTasks();
        pinned.runPendingTasks();
        assertThat(pinned.isOpen()).as("no byte of its payload while another waited").isFalse();
        waiting.runPendingTasks();
        assertThat(waiting.config().isAutoRead()).isTrue();
        assertThat(budget.usedBytes()).isEqualTo(32L * MIB);
        assertThat(budget.hasWaiters()).isFalse();
    }
}

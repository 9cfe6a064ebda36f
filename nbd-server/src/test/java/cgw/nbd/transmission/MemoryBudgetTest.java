package cgw.nbd.transmission;

import static cgw.nbd.transmission.Frames.request;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.nbd.Wire;
import cgw.nbd.wire.Command;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
        channel.pipeline().addLast(new RequestDecoder(32 * MIB, gate, new ConnectionMemory(budget, gate), 30_000));
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
        assertThat(budget.tryReserve(4 * MIB, 0)).as("a small share, any time there is room").isTrue();
        assertThat(budget.tryReserve(40 * MIB, 0)).as("big, while under three quarters").isTrue();
        assertThat(budget.tryReserve(8 * MIB, 40 * MIB)).as("big past three quarters").isFalse();
        assertThat(budget.tryReserve(4 * MIB, 0)).as("small, in the last quarter").isTrue();
        assertThat(budget.tryReserve(17 * MIB, 0)).as("never past the limit").isFalse();
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
}

package cgw.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class HandshakeDeadlineTest {
    @Test
    void aHandshakeThatTricklesIsClosedAtTheDeadlineAndOneThatEndsIsNot() {
        EmbeddedChannel slow = new EmbeddedChannel();
        slow.freezeTime();
        slow.pipeline().addLast("deadline", new HandshakeDeadline(1000));
        for (int i = 0; i < 9; i++) {
            slow.writeInbound(Unpooled.wrappedBuffer(new byte[]{1}));
            slow.advanceTimeBy(100, TimeUnit.MILLISECONDS);
            slow.runScheduledPendingTasks();
        }
        assertThat(slow.isOpen()).isTrue();
        slow.advanceTimeBy(101, TimeUnit.MILLISECONDS);
        slow.runScheduledPendingTasks();
        assertThat(slow.isOpen()).as("a byte every 100 ms does not stretch the deadline").isFalse();
        slow.finishAndReleaseAll();

        EmbeddedChannel done = new EmbeddedChannel();
        done.freezeTime();
        done.pipeline().addLast("deadline", new HandshakeDeadline(1000));
        done.pipeline().remove("deadline"); // transmission started
        done.advanceTimeBy(5000, TimeUnit.MILLISECONDS);
        done.runScheduledPendingTasks();
        assertThat(done.isOpen()).isTrue();
        done.finishAndReleaseAll();
    }
}

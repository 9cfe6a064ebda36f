package cgw.leak;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.Test;

/** The check bites: a buffer dropped without a release fails it, released buffers pass. */
class NoLeaksTest {
    @Test
    void aBufferDroppedWithoutAReleaseIsReported() {
        dropWithoutRelease();
        assertThatThrownBy(() -> NoLeaks.assertNoLeaks("the leaking test")).isInstanceOf(AssertionError.class)
                .hasMessageContaining("Netty buffers leaked during the leaking test").hasMessageContaining("ByteBuf");
        assertThatCode(() -> NoLeaks.assertNoLeaks("the next test")).as("a leak is reported once")
                .doesNotThrowAnyException();
    }

    @Test
    void releasedBuffersPass() {
        PooledByteBufAllocator.DEFAULT.directBuffer(64).writeLong(7).release();
        assertThatCode(() -> NoLeaks.assertNoLeaks("a clean test")).doesNotThrowAnyException();
    }

    /** In its own frame, so that nothing of the test's keeps the buffer reachable. */
    private static void dropWithoutRelease() {
        ByteBuf leaked = PooledByteBufAllocator.DEFAULT.directBuffer(64);
        leaked.writeLong(42);
    }
}

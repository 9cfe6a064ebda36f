package cgw.nbd.leak;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test after which Netty reports a leaked buffer; registered for every test of this module
 * (junit-platform.properties turns on extension autodetection). Leaks are only noticed once the leaked
 * buffer is garbage collected and the detector runs again, so this collects garbage and allocates
 * a few tracked buffers before asking.
 */
public final class NoLeaks implements AfterEachCallback {
    @Override
    public void afterEach(ExtensionContext context) throws InterruptedException {
        for (int round = 0; round < 3; round++) {
            System.gc();
            Thread.sleep(20);
            for (int i = 0; i < 64; i++) {
                ByteBuf probe = PooledByteBufAllocator.DEFAULT.directBuffer(16);
                probe.release();
            }
        }
        assertThat(LeakRecorder.take()).as("Netty buffers leaked during %s", context.getDisplayName()).isEmpty();
    }
}

package cgw.leak;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.lang.annotation.Annotation;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test after which Netty reports a leaked buffer. Registered through JUnit's extension
 * autodetection: a module whose tests use Netty adds {@code cgw:leak-check} as a test dependency
 * and turns autodetection on in its {@code src/test/resources/junit-platform.properties}:
 * <pre>
 * junit.jupiter.extensions.autodetection.enabled=true
 * junit.jupiter.extensions.autodetection.include=cgw.leak.*
 * </pre>
 * Leaks are only noticed once the leaked buffer is garbage collected and the detector runs again,
 * so this collects garbage, waits until the collector has enqueued what it found, and allocates a
 * few tracked buffers before asking. Runs on the test's thread. The inputs a fuzz test replays
 * (hundreds, each a test of its own) are checked together once the class is done: three
 * collections per input cost more than the inputs.
 */
public final class NoLeaks implements AfterEachCallback, AfterAllCallback {
    private static final int GC_ROUNDS = 3;
    private static final long ENQUEUE_TIMEOUT_MS = 10_000;

    @Override
    public void afterEach(ExtensionContext context) throws InterruptedException {
        if (context.getTestMethod().map(NoLeaks::isFuzzTest).orElse(false)) {
            return; // checked in afterAll
        }
        assertNoLeaks(context.getDisplayName());
    }

    @Override
    public void afterAll(ExtensionContext context) throws InterruptedException {
        assertNoLeaks(context.getDisplayName() + " (its fuzz inputs)");
    }

    /** Jazzer's {@code @FuzzTest}, by name: this module does not depend on Jazzer. */
    private static boolean isFuzzTest(Method method) {
        return Arrays.stream(method.getAnnotations()).map(Annotation::annotationType)
                .anyMatch(type -> type.getName().equals("com.code_intelligence.jazzer.junit.FuzzTest"));
    }

    /** Throws an {@link AssertionError} naming the leaks Netty reports once garbage is collected. */
    static void assertNoLeaks(String during) throws InterruptedException {
        for (int round = 0; round < GC_ROUNDS; round++) {
            collectGarbage();
            for (int i = 0; i < 64; i++) {
                ByteBuf probe = PooledByteBufAllocator.DEFAULT.directBuffer(16);
                probe.release();
            }
        }
        List<String> leaks = LeakRecorder.take();
        if (!leaks.isEmpty()) {
            throw new AssertionError("Netty buffers leaked during " + during + ": " + leaks);
        }
    }

    /**
     * Runs the collector until it has cleared and enqueued a reference to an object that only it
     * could see: the references to leaked buffers it cleared in that collection are on their way
     * to the leak detector's queue too.
     */
    private static void collectGarbage() throws InterruptedException {
        ReferenceQueue<Object> queue = new ReferenceQueue<>();
        WeakReference<Object> sentinel = new WeakReference<>(new Object(), queue);
        long deadlineMs = System.currentTimeMillis() + ENQUEUE_TIMEOUT_MS;
        System.gc();
        while (queue.remove(10) == null) {
            if (System.currentTimeMillis() > deadlineMs) {
                throw new AssertionError("the garbage collector did not clear a weak reference within "
                        + ENQUEUE_TIMEOUT_MS + " ms; cannot tell whether buffers leaked");
            }
            System.gc();
        }
        sentinel.clear();
    }
}

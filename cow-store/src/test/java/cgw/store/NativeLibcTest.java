package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * {@link NativeLibc}: an interrupted caller still gets libc (jnr-ffi's first load in a process
 * unpacks its stub through a channel an interrupt would close, for good) and keeps its interrupt.
 */
class NativeLibcTest {
    /** What the test calls. */
    public interface LibC {
        int getpid();
    }

    @Test
    void anInterruptedCallerGetsLibcAndKeepsItsInterrupt() {
        Thread.currentThread().interrupt();
        try {
            LibC libc = NativeLibc.load(LibC.class);
            assertThat(Thread.currentThread().isInterrupted()).as("interrupt status kept").isTrue();
            assertThat((long) libc.getpid()).isEqualTo(ProcessHandle.current().pid());
        } finally {
            Thread.interrupted();
        }
    }
}

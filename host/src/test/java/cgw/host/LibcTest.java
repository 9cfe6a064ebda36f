package cgw.host;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Libc}: loaded once, for an interrupted caller too, and errno read after a failed call.
 * Nothing else in this module's tests loads jnr-ffi, so the first test here is the process's first
 * load, the one an interrupt could break for good.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LibcTest {
    private static final int ENOENT = 2;

    @Test
    @Order(1)
    void anInterruptedCallerGetsLibcAndKeepsItsInterrupt() {
        Thread.currentThread().interrupt();
        try {
            Libc libc = Libc.load();
            assertThat(Thread.currentThread().isInterrupted()).as("interrupt status kept").isTrue();
            assertThat((long) libc.getpid()).isEqualTo(ProcessHandle.current().pid());
        } finally {
            Thread.interrupted();
        }
    }

    @Test
    @Order(2)
    void everyCallerSharesOneBinding() {
        assertThat(Libc.load()).isSameAs(Libc.load());
    }

    @Test
    @Order(3)
    void aFailedCallLeavesItsErrno(@TempDir Path dir) {
        Libc libc = Libc.load();
        assertThat(libc.open(dir.resolve("absent").toString(), 0)).isEqualTo(-1);
        assertThat(Libc.errno()).isEqualTo(ENOENT);
        assertThat(Libc.describe(ENOENT)).endsWith(" (errno 2)").isNotEqualTo(" (errno 2)");
        int fd = libc.open(dir.toString(), 0);
        assertThat(fd).isNotNegative();
        assertThat(libc.close(fd)).isZero();
    }
}

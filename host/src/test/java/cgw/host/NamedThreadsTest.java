package cgw.host;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import org.junit.jupiter.api.Test;

/** {@link NamedThreads}: names, the daemon flag, and a dying thread's exception in the log. */
class NamedThreadsTest {
    private static final Runnable NOTHING = () -> {
    };

    @Test
    void aPoolsThreadsAreNumbered() {
        NamedThreads factory = NamedThreads.numbered("cgw-test", true);
        Thread first = factory.newThread(NOTHING);
        Thread second = factory.newThread(NOTHING);
        assertThat(first.getName()).isEqualTo("cgw-test-1");
        assertThat(second.getName()).isEqualTo("cgw-test-2");
        assertThat(first.isDaemon()).isTrue();
        assertThat(NamedThreads.numbered("cgw-test", false).newThread(NOTHING).isDaemon()).isFalse();
        assertThat(first.getState()).as("not started").isEqualTo(Thread.State.NEW);
        assertThat(first.getUncaughtExceptionHandler()).as("logs as a lone thread does")
                .isSameAs(NamedThreads.thread("cgw-lone", true, NOTHING).getUncaughtExceptionHandler());
    }

    @Test
    void aSingleThreadKeepsItsName() {
        NamedThreads factory = NamedThreads.single("cgw-one", false);
        assertThat(factory.newThread(NOTHING).getName()).isEqualTo("cgw-one");
        assertThat(factory.newThread(NOTHING).getName()).isEqualTo("cgw-one");
        assertThat(factory.newThread(NOTHING).isDaemon()).isFalse();
        assertThat(NamedThreads.thread("cgw-hook", true, NOTHING).getName()).isEqualTo("cgw-hook");
    }

    @Test
    void anExceptionThatEndsAThreadIsLogged() throws InterruptedException {
        try (LogCapture logged = new LogCapture(NamedThreads.class)) {
            Thread thread = NamedThreads.thread("cgw-dies", true, () -> {
                throw new IllegalStateException("boom");
            });
            thread.start();
            thread.join();
            assertThat(logged.events()).singleElement().satisfies(event -> {
                assertThat(event.getLevel()).isEqualTo(Level.ERROR);
                assertThat(event.getFormattedMessage()).contains("cgw-dies");
                assertThat(event.getThrowableProxy().getMessage()).isEqualTo("boom");
            });
        }
    }
}

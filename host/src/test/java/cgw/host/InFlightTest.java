package cgw.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link InFlight}: admission until a drain, and a drain woken by the last exit. */
@Timeout(value = 1, unit = TimeUnit.MINUTES) // a drain that is never woken fails instead of hanging the build
class InFlightTest {
    /** Warns too rarely to wake a drain in a test: only the last exit does. */
    private final InFlight inFlight = new InFlight("test", TimeUnit.DAYS.toNanos(1));

    @Test
    void callsAreAdmittedUntilADrainBegins() throws InterruptedException {
        assertThat(inFlight.tryEnter()).isTrue();
        assertThat(inFlight.tryEnter()).isTrue();
        assertThat(inFlight.count()).isEqualTo(2);
        inFlight.exit();
        inFlight.exit();
        assertThat(inFlight.drain(0)).as("none in flight").isTrue();
        assertThat(inFlight.tryEnter()).isFalse();
        assertThat(inFlight.count()).as("a refused call is not counted").isZero();
    }

    @Test
    void refusingComesBeforeTheDrainAndOnlyTheFirstRefuserIsTold() throws InterruptedException {
        assertThat(inFlight.tryEnter()).isTrue();
        assertThat(inFlight.refuse()).as("the first refuser").isTrue();
        assertThat(inFlight.refuse()).as("a close already under way").isFalse();
        assertThat(inFlight.refusing()).isTrue();
        assertThat(inFlight.tryEnter()).as("refused before any drain").isFalse();
        assertThat(inFlight.drain(0)).as("the admitted call is still in flight").isFalse();
        inFlight.exit();
        assertThat(inFlight.drain(0)).isTrue();
    }

    @Test
    void aCallThatMustRunIsCountedDuringADrain() throws InterruptedException {
        assertThat(inFlight.drain(0)).isTrue();
        inFlight.enter();
        assertThat(inFlight.count()).isEqualTo(1);
        assertThat(inFlight.drain(0)).as("the drain waits for it").isFalse();
        inFlight.exit();
        assertThat(inFlight.drain(0)).isTrue();
    }

    @Test
    void aDrainWaitsForTheLastExit() throws Exception {
        assertThat(inFlight.tryEnter()).isTrue();
        assertThat(inFlight.tryEnter()).isTrue();
        AtomicReference<Thread> drainer = new AtomicReference<>();
        CompletableFuture<Boolean> drained = CompletableFuture.supplyAsync(() -> {
            drainer.set(Thread.currentThread());
            try {
                return inFlight.drain(TimeUnit.DAYS.toMillis(1));
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        awaitWaiting(drained, drainer);
        assertThat(inFlight.tryEnter()).as("refused while draining").isFalse();
        inFlight.exit();
        assertThat(drained).as("one call still in flight").isNotDone();
        inFlight.exit();
        assertThat(drained.get(5, TimeUnit.MINUTES)).isTrue();
    }

    @Test
    void aDrainGivesUpAtItsTimeoutAndWarnsWhileItWaits() throws InterruptedException {
        InFlight stuck = new InFlight("a stuck owner", TimeUnit.MILLISECONDS.toNanos(1));
        assertThat(stuck.tryEnter()).isTrue();
        try (LogCapture logged = new LogCapture(InFlight.class)) {
            assertThat(stuck.drain(20)).isFalse();
            assertThat(logged.events()).isNotEmpty().allSatisfy(event -> {
                assertThat(event.getLevel()).isEqualTo(Level.WARN);
                assertThat(event.getFormattedMessage())
                        .startsWith("closing a stuck owner: still waiting for 1 calls in flight after ");
            });
        }
        assertThat(stuck.count()).isEqualTo(1);
    }

    @Test
    void anUninterruptibleDrainOutlastsAnInterruptAndKeepsIt() throws Exception {
        assertThat(inFlight.tryEnter()).isTrue();
        AtomicBoolean interruptKept = new AtomicBoolean();
        AtomicReference<Thread> drainer = new AtomicReference<>();
        CompletableFuture<Void> drained = CompletableFuture.runAsync(() -> {
            drainer.set(Thread.currentThread());
            inFlight.drainUninterruptibly();
            interruptKept.set(Thread.interrupted());
        });
        awaitWaiting(drained, drainer);
        try (LogCapture logged = new LogCapture(InFlight.class)) {
            drainer.get().interrupt();
            while (logged.events().isEmpty()) { // the drainer saw the interrupt
                Thread.onSpinWait();
            }
            assertThat(logged.events()).extracting(ILoggingEvent::getFormattedMessage)
                    .singleElement().asString().startsWith("interrupted while closing test");
        }
        awaitWaiting(drained, drainer);
        assertThat(drained).as("still waiting for the call").isNotDone();
        inFlight.exit();
        drained.get(5, TimeUnit.MINUTES);
        assertThat(interruptKept).isTrue();
    }

    @Test
    void moreExitsThanEntriesIsABug() {
        assertThatThrownBy(inFlight::exit).isInstanceOf(IllegalStateException.class)
                .hasMessage("test: more exits than entries");
        assertThat(inFlight.count()).isZero();
    }

    /** Waits until the drainer waits on the monitor (it has read the count and found calls left). */
    private static void awaitWaiting(CompletableFuture<?> drain, AtomicReference<Thread> drainer) {
        while (true) {
            Thread thread = drainer.get();
            if (drain.isDone()) {
                throw new AssertionError("the drain ended: " + drain);
            }
            if (thread != null && thread.getState() == Thread.State.TIMED_WAITING) {
                return;
            }
            Thread.onSpinWait();
        }
    }
}

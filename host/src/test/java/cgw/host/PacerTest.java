package cgw.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Pacer} on a simulated clock that a sleep moves forward. */
class PacerTest {
    private static final long MS = 1_000_000;

    private long nowNanos = 1_000 * MS;
    private final List<Long> sleeps = new ArrayList<>();

    private Pacer pacer(long unitsPerSecond) {
        return new Pacer(unitsPerSecond, () -> nowNanos, nanos -> {
            sleeps.add(nanos);
            nowNanos += nanos;
        });
    }

    @Test
    void workAheadOfTheRateSleepsUntilItFits() throws InterruptedException {
        Pacer pacer = pacer(1000);
        pacer.pace(500);
        assertThat(sleeps).containsExactly(500 * MS);
        nowNanos += 200 * MS; // the work itself took 200 ms
        pacer.pace(500);
        assertThat(sleeps).containsExactly(500 * MS, 300 * MS);
    }

    @Test
    void workBehindTheRateDoesNotSleep() throws InterruptedException {
        Pacer pacer = pacer(1000);
        nowNanos += 2_000 * MS;
        pacer.pace(1500);
        assertThat(sleeps).isEmpty();
        pacer.pace(1000); // due at 2.5 s, now 2 s
        assertThat(sleeps).containsExactly(500 * MS);
    }

    @Test
    void waitsShorterThanAMillisecondAddUpInsteadOfBeingLost() throws InterruptedException {
        Pacer pacer = pacer(1000);
        pacer.pace(1);
        assertThat(sleeps).as("1 ms ahead: not worth a sleep").isEmpty();
        pacer.pace(1);
        assertThat(sleeps).containsExactly(2 * MS);
    }

    @Test
    void anUnlimitedPacerNeverSleeps() throws InterruptedException {
        Pacer pacer = pacer(Pacer.UNLIMITED);
        pacer.pace(Long.MAX_VALUE / 2);
        pacer.pace(Long.MAX_VALUE / 2);
        assertThat(sleeps).isEmpty();
    }

    @Test
    void anInterruptEndsTheSleepWithTheUnitsCounted() throws InterruptedException {
        Pacer pacer = new Pacer(1000, () -> nowNanos, nanos -> {
            throw new InterruptedException("stop");
        });
        assertThatThrownBy(() -> pacer.pace(500)).isInstanceOf(InterruptedException.class);
        nowNanos += 2_000 * MS;
        assertThatCode(() -> pacer.pace(1000)).as("1500 units due at 1.5 s, now 2 s: no sleep")
                .doesNotThrowAnyException();
    }

    @Test
    void aRateMustBePositive() {
        assertThatThrownBy(() -> new Pacer(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("got 0");
        assertThatThrownBy(() -> new Pacer(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theRealClockPacesToo() throws InterruptedException {
        Pacer pacer = new Pacer(1_000_000_000L);
        long start = System.nanoTime();
        pacer.pace(2_000_000); // 2 ms of work at a billion a second
        assertThat(System.nanoTime() - start).as("slept until the work fit").isGreaterThanOrEqualTo(MS);
    }
}

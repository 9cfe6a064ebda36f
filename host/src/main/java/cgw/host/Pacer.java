package cgw.host;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Spreads background work (the store's collector and cleaner, a backup job's reads) to at most
 * {@code unitsPerSecond}, so it leaves the disk and CPU to guest I/O. It sleeps when the work done
 * since the start runs ahead of the rate: counted from the start, a short burst is paid back
 * later and sub-millisecond waits can be skipped without drifting.
 *
 * <p>Threads: the one thread doing the paced work; never shared.
 */
public final class Pacer {
    /** A rate that never waits. */
    public static final long UNLIMITED = Long.MAX_VALUE;
    /** Ahead by less than this, a sleep would cost more than it evens out. */
    private static final long MIN_SLEEP_NANOS = 1_000_000;

    /** Sleeps the given nanoseconds; throws when interrupted. */
    @FunctionalInterface
    interface Sleeper {
        void sleep(long nanos) throws InterruptedException;
    }

    private final long unitsPerSecond;
    private final LongSupplier nanoClock;
    private final Sleeper sleeper;
    private final long startNanos;
    private long unitsDone;

    /** @param unitsPerSecond positive; {@link #UNLIMITED} for no limit */
    public Pacer(long unitsPerSecond) {
        this(unitsPerSecond, System::nanoTime, TimeUnit.NANOSECONDS::sleep);
    }

    Pacer(long unitsPerSecond, LongSupplier nanoClock, Sleeper sleeper) {
        if (unitsPerSecond <= 0) {
            throw new IllegalArgumentException("unitsPerSecond must be positive, got " + unitsPerSecond);
        }
        this.unitsPerSecond = unitsPerSecond;
        this.nanoClock = nanoClock;
        this.sleeper = sleeper;
        this.startNanos = nanoClock.getAsLong();
    }

    /**
     * Counts {@code units} more done and sleeps until they fit the rate. An interrupt ends the
     * sleep with {@link InterruptedException}; the units stay counted.
     */
    public void pace(long units) throws InterruptedException {
        unitsDone += units;
        if (unitsPerSecond == UNLIMITED) {
            return;
        }
        long dueNanos = (long) (unitsDone * 1e9 / unitsPerSecond);
        long aheadNanos = dueNanos - (nanoClock.getAsLong() - startNanos);
        if (aheadNanos > MIN_SLEEP_NANOS) {
            sleeper.sleep(aheadNanos);
        }
    }

    /**
     * {@link #pace} for work that is stopped by a flag, not by an interrupt (the store's background
     * threads, where an interrupt in a file channel would close it): an interrupt ends the sleep
     * and stays set for the caller to see.
     */
    public void paceKeepingInterrupt(long units) {
        try {
            pace(units);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package cgw.host;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts refusals (connections past a cap) and says when one should be logged: at most once a
 * second, so that a flood of them is a line a second in the log, not a line each, with the
 * count so far. Threads: any; lock-free.
 */
public final class RefusalLog {
    private static final long INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong lastLogNanos = new AtomicLong(System.nanoTime() - 2 * INTERVAL_NANOS);

    /** Counts one refusal; returns the count so far when this one should be logged, else 0. */
    public long refusedAndDue() {
        long count = refused.incrementAndGet();
        long now = System.nanoTime();
        long last = lastLogNanos.get();
        return now - last > INTERVAL_NANOS && lastLogNanos.compareAndSet(last, now) ? count : 0;
    }
}

package cgw.host;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Counts calls in flight so that a close can refuse new ones and wait for the rest, woken by the
 * last one out instead of polling. Entering and leaving cost one atomic update each and never
 * block (they run on event loops and on the store's hot path); only the last exit after a drain
 * began takes the monitor, to wake the drainer. While it waits, the drainer logs a warning every
 * five seconds, so a close that hangs says what it waits for.
 *
 * <p>Threads: {@link #tryEnter} and {@link #exit} from any; a drain from the closing thread.
 */
public final class InFlight {
    private static final Logger log = LoggerFactory.getLogger(InFlight.class);
    private static final long WARN_EVERY_NANOS = TimeUnit.SECONDS.toNanos(5);

    /** What the calls go to, as the warnings name it: "store at /var/lib/cgw", "REST API". */
    private final String owner;
    private final AtomicLong count = new AtomicLong();
    private final long warnEveryNanos;
    /** Pairs a drainer's wait with the last exit's wake-up; guards no state. */
    private final Object lastExit = new Object();
    /** Set once by the first drain; no entry succeeds after. */
    private volatile boolean draining;

    public InFlight(String owner) {
        this(owner, WARN_EVERY_NANOS);
    }

    InFlight(String owner, long warnEveryNanos) {
        this.owner = owner;
        this.warnEveryNanos = warnEveryNanos;
    }

    /** Admits one call, or returns false once a drain has begun (the caller refuses it). */
    public boolean tryEnter() {
        count.incrementAndGet();
        // a drain sets the flag before it reads the count: either it sees this call or this sees it
        if (draining) {
            exit();
            return false;
        }
        return true;
    }

    /**
     * Counts a call that must run to its end even when a drain has begun (an NBD request already
     * read off its connection): the drain waits for it too, within its timeout.
     */
    public void enter() {
        count.incrementAndGet();
    }

    /** Ends a call {@link #tryEnter} admitted or {@link #enter} counted. */
    public void exit() {
        long left = count.decrementAndGet();
        if (left < 0) {
            count.incrementAndGet();
            throw new IllegalStateException(owner + ": more exits than entries");
        }
        if (left == 0 && draining) {
            synchronized (lastExit) {
                lastExit.notifyAll();
            }
        }
    }

    /**
     * Refuses new calls from now on without waiting yet, for a closer that stops other work before
     * it drains; true for the first caller only (a close is then already under way).
     */
    public synchronized boolean refuse() {
        if (draining) {
            return false;
        }
        draining = true;
        return true;
    }

    /** Whether new calls are refused (a refuse or drain has begun). */
    public boolean refusing() {
        return draining;
    }

    /** Calls admitted and not yet ended. */
    public long count() {
        return count.get();
    }

    /**
     * Refuses new calls, then waits up to {@code timeoutMs} for the admitted ones to end; true when
     * none is left. May be called again, to wait more.
     */
    public boolean drain(long timeoutMs) throws InterruptedException {
        draining = true;
        return awaitNone(System.nanoTime(), TimeUnit.MILLISECONDS.toNanos(timeoutMs));
    }

    /**
     * Refuses new calls and waits, however long it takes, until none is left: for a close that
     * must not free what a call still uses. An interrupt does not end the wait; it is logged and
     * kept for the caller.
     */
    public void drainUninterruptibly() {
        draining = true;
        long startNanos = System.nanoTime();
        boolean interrupted = false;
        while (true) {
            try {
                awaitNone(startNanos, Long.MAX_VALUE);
                break;
            } catch (InterruptedException e) {
                if (!interrupted) {
                    log.warn("interrupted while closing {}; still waiting for {} calls in flight", owner, count.get());
                }
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits until no call is left (true) or {@code timeoutNanos} after {@code startNanos} (false). */
    private boolean awaitNone(long startNanos, long timeoutNanos) throws InterruptedException {
        synchronized (lastExit) {
            long elapsedNanos = System.nanoTime() - startNanos;
            long nextWarningNanos = (elapsedNanos / warnEveryNanos + 1) * warnEveryNanos;
            while (count.get() > 0) {
                if (elapsedNanos >= timeoutNanos) {
                    return false;
                }
                if (elapsedNanos >= nextWarningNanos) {
                    log.warn("closing {}: still waiting for {} calls in flight after {} s", owner, count.get(),
                            TimeUnit.NANOSECONDS.toSeconds(elapsedNanos));
                    nextWarningNanos += warnEveryNanos;
                }
                TimeUnit.NANOSECONDS.timedWait(lastExit, Math.min(timeoutNanos, nextWarningNanos) - elapsedNanos);
                elapsedNanos = System.nanoTime() - startNanos;
            }
            return true;
        }
    }
}

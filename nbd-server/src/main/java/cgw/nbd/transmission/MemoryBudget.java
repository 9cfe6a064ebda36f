package cgw.nbd.transmission;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes of requests and replies that every NBD connection of a server together may hold:
 * WRITE payloads (from the moment a streamed one is allocated) and READ replies, until answered.
 * Admission comes before allocation: a connection that cannot reserve waits, its reading shut
 * ({@link ReadGate.Reason#MEMORY}), and is woken when memory is released.
 *
 * <p>Shares: a connection that is making progress (it released memory within the last second)
 * may hold up to {@link #smallShare} whenever the budget has it; any other reservation is admitted
 * only while three quarters of the budget are not used. So connections that hold much, or hold
 * without moving (a crowd of clients each pinning a payload or leaving replies unread), can never
 * take the last quarter, and a VM doing its usual I/O beside them still gets its next request in.
 *
 * <p>Threads: any; lock-free. Waiters are run on the releasing thread and must only hand off to
 * their own event loop.
 */
public final class MemoryBudget {
    private final long limit;
    private final long smallShare;
    private final AtomicLong used = new AtomicLong();
    /** Waiters for a small share while making progress: never queued behind a big request. */
    private final ConcurrentLinkedQueue<Waiter> smallWaiters = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();
    private final PressureRelief relief = new PressureRelief(this);

    public MemoryBudget(long limitBytes) {
        if (limitBytes <= 0) {
            throw new IllegalArgumentException("the NBD memory budget must be positive, got " + limitBytes);
        }
        this.limit = limitBytes;
        this.smallShare = limitBytes / 16;
    }

    public long limitBytes() {
        return limit;
    }

    public long usedBytes() {
        return used.get();
    }

    boolean hasWaiters() {
        return !smallWaiters.isEmpty() || !waiters.isEmpty();
    }

    PressureRelief relief() {
        return relief;
    }

    /** Reserves {@code bytes} for a connection that holds {@code heldBytes} already, if its share allows. */
    boolean tryReserve(long bytes, long heldBytes, boolean progressing) {
        while (true) {
            long now = used.get();
            if (!admits(now, bytes, heldBytes, progressing)) {
                return false;
            }
            if (used.compareAndSet(now, now + bytes)) {
                return true;
            }
        }
    }

    private boolean admits(long now, long bytes, long heldBytes, boolean progressing) {
        long after = now + bytes;
        return after <= limit && (progressing && heldBytes + bytes <= smallShare || after <= limit / 4 * 3);
    }

    /** Counts bytes already in memory (a request passed on): never refused. */
    void reserve(long bytes) {
        used.addAndGet(bytes);
    }

    boolean isOverLimit() {
        return used.get() > limit;
    }

    void release(long bytes) {
        used.addAndGet(-bytes);
        wakeAdmitted();
    }

    /**
     * Runs {@code wake} once a release lets in what the caller was refused: {@code bytes} more
     * while holding {@code heldBytes} (at once if memory was released meanwhile). Waiters are
     * woken in order, and only when the first would be admitted: a release too small for it wakes
     * nobody, so waiters do not spin. A connection making progress that waits for a small share
     * queues apart, ahead of the rest, so a big request that does not fit yet never holds it up.
     * A woken waiter that still cannot reserve asks again.
     */
    void whenReleased(Runnable wake, long bytes, long heldBytes, boolean progressing) {
        boolean small = progressing && heldBytes + bytes <= smallShare;
        (small ? smallWaiters : waiters).add(new Waiter(wake, bytes, heldBytes, progressing));
        wakeAdmitted();
    }

    /** Wakes, in order, the waiters for small shares that fit, then the others that fit. */
    private void wakeAdmitted() {
        wakeAdmitted(smallWaiters);
        wakeAdmitted(waiters);
    }

    private void wakeAdmitted(ConcurrentLinkedQueue<Waiter> queue) {
        for (Waiter first; (first = queue.peek()) != null
                && admits(used.get(), first.bytes, first.heldBytes, first.progressing);) {
            if (queue.remove(first)) {
                first.wake.run();
            }
        }
    }

    private record Waiter(Runnable wake, long bytes, long heldBytes, boolean progressing) {
    }
}

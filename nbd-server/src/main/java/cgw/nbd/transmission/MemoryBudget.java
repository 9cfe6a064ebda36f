package cgw.nbd.transmission;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes of requests and replies that every NBD connection of a server together may hold:
 * WRITE payloads (from the moment a streamed one is allocated) and READ replies, until answered.
 * Admission comes before allocation: a connection that cannot reserve waits, its reading shut
 * ({@link ReadGate.Reason#MEMORY}), and is woken when memory is released.
 *
 * <p>Shares: any connection may hold up to {@link #smallShare} whenever the budget has it; beyond
 * that only while three quarters of it are not used. So connections that hold much (a crowd of
 * clients each pinning a large payload) can never take the last quarter, and a connection that
 * holds little (a VM doing its usual I/O beside them) still gets its next request in.
 *
 * <p>Threads: any; lock-free. Waiters are run on the releasing thread and must only hand off to
 * their own event loop.
 */
public final class MemoryBudget {
    private final long limit;
    private final long smallShare;
    private final AtomicLong used = new AtomicLong();
    private final ConcurrentLinkedQueue<Runnable> waiters = new ConcurrentLinkedQueue<>();

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

    /** Reserves {@code bytes} for a connection that holds {@code heldBytes} already, if its share allows. */
    boolean tryReserve(long bytes, long heldBytes) {
        while (true) {
            long now = used.get();
            if (!admits(now, bytes, heldBytes)) {
                return false;
            }
            if (used.compareAndSet(now, now + bytes)) {
                return true;
            }
        }
    }

    private boolean admits(long now, long bytes, long heldBytes) {
        long after = now + bytes;
        return after <= limit && (heldBytes + bytes <= smallShare || after <= limit / 4 * 3);
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
        Runnable next = waiters.poll();
        if (next != null) {
            next.run();
        }
    }

    /**
     * Runs {@code wake} once after the next release, or at once when memory was released since
     * the caller was refused {@code bytes} while holding {@code heldBytes}, so that it would be
     * admitted now. A woken waiter that still cannot reserve asks again.
     */
    void whenReleased(Runnable wake, long bytes, long heldBytes) {
        waiters.add(wake);
        if (admits(used.get(), bytes, heldBytes)) {
            Runnable next = waiters.poll(); // released meanwhile: nobody else will wake it
            if (next != null) {
                next.run();
            }
        }
    }
}

package cgw.barrier;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admission point of one volume's head I/O, where the group barrier cuts epochs.
 *
 * <p>Every request is tagged with the gate's epoch when it is admitted. Mutations (writes,
 * write-zeroes, trims) are applied in the epoch of their tag, even when a cut sealed it while they
 * were queued; a mutation of a newer epoch waits until every mutation of older epochs finished,
 * so a late read-modify-write of a sealed epoch never races one of the next epoch on the same
 * block. Reads, flushes and maps run at once.
 *
 * <p>While a {@link Hold} is on, the replies of requests admitted since it began (reads too) wait
 * until it is released: nothing a guest learns from a request of the new epoch can lead it to
 * issue a request that lands in the old epoch of another volume of the group before every gate
 * switched. A hold ends when its coordinator releases it or, whatever happens to the coordinator,
 * when its lease expires.
 *
 * <p>Threads: {@link #submit} runs on NBD event loops, completions on store threads, holds on the
 * coordinator and the lease timer. One lock guards the state; ops and replies run outside it.
 */
public final class EpochGate {
    private static final Logger log = LoggerFactory.getLogger(EpochGate.class);

    private final String volume;
    private final ReentrantLock lock = new ReentrantLock();
    /** Tag of requests admitted now. Guarded by lock (as is everything below). */
    private long epoch;
    /** Mutations tagged with this epoch may run; newer ones are parked. */
    private long mutationEpoch;
    private int runningMutations;
    private final ArrayDeque<Parked<?>> parked = new ArrayDeque<>();
    private Hold hold;
    /** Futures of {@link #drained}, by epoch. */
    private final TreeMap<Long, CompletableFuture<Void>> drainWaiters = new TreeMap<>();

    public EpochGate(String volume, long epoch) {
        this.volume = volume;
        this.epoch = epoch;
        this.mutationEpoch = epoch;
    }

    /**
     * Admits one request. {@code op} starts it and is given the epoch it belongs to, which
     * mutations must write in; it runs at once, or later on the thread that finished the last
     * older mutation. The returned future completes with the op's outcome once no hold keeps it.
     */
    public <T> CompletableFuture<T> submit(boolean mutation, LongFunction<CompletableFuture<T>> op) {
        long tag;
        boolean mayBeHeld;
        lock.lock();
        try {
            tag = epoch;
            // a hold keeps only replies of requests admitted after it began
            mayBeHeld = hold != null;
            if (mutation) {
                if (tag != mutationEpoch || !parked.isEmpty()) {
                    CompletableFuture<T> reply = new CompletableFuture<>();
                    parked.add(new Parked<>(tag, op, reply));
                    return reply;
                }
                runningMutations++;
            }
        } finally {
            lock.unlock();
        }
        if (!mayBeHeld) {
            // the common case: no barrier running, the op's own future is the reply
            CompletableFuture<T> applied = apply(op, tag);
            if (mutation) {
                applied.whenComplete((value, failure) -> finished(true, tag, null, value, failure));
            }
            return applied;
        }
        CompletableFuture<T> reply = new CompletableFuture<>();
        launch(mutation, tag, op, reply);
        return reply;
    }

    /** The epoch requests are tagged with now. */
    public long epoch() {
        lock.lock();
        try {
            return epoch;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Completes when every mutation tagged {@code sealed} or older has been applied: from then on
     * that epoch never changes. {@code sealed} must be older than the gate's epoch.
     */
    public CompletableFuture<Void> drained(long sealed) {
        lock.lock();
        try {
            if (sealed >= epoch) {
                throw new IllegalStateException(
                        "epoch " + sealed + " of " + volume + " is not sealed (gate at " + epoch + ")");
            }
            if (isDrained(sealed)) {
                return CompletableFuture.completedFuture(null);
            }
            return drainWaiters.computeIfAbsent(sealed, e -> new CompletableFuture<>());
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- the coordinator's side

    /** Taken by the coordinator around {@link #switchAndHold} of every gate of a group, in volume order. */
    void lock() {
        lock.lock();
    }

    void unlock() {
        lock.unlock();
    }

    /**
     * Moves admissions to {@code next} and holds the replies of everything admitted from now on,
     * until {@link #release} or until {@code leaseNanos} pass. Under {@link #lock()}.
     */
    Hold switchAndHold(long next, long leaseNanos, ScheduledExecutorService timer) {
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("switching " + volume + " without its lock");
        }
        if (next <= epoch) {
            throw new IllegalStateException("cannot switch " + volume + " from epoch " + epoch + " to " + next);
        }
        if (hold != null) {
            throw new IllegalStateException(volume + " is already held from epoch " + hold.from);
        }
        epoch = next;
        if (runningMutations == 0 && parked.isEmpty()) {
            mutationEpoch = next;
        }
        Hold started = new Hold(this, next);
        hold = started;
        started.lease = timer.schedule(() -> expire(started), leaseNanos, TimeUnit.NANOSECONDS);
        return started;
    }

    /**
     * Ends {@code held} and lets its replies go. False when its lease had already ended it (the
     * replies went then).
     */
    boolean release(Hold held) {
        List<Runnable> replies = detach(held);
        if (replies == null) {
            return false;
        }
        replies.forEach(Runnable::run);
        return true;
    }

    /**
     * Ends {@code held}: from now on replies go out as they complete. Returns the replies it kept,
     * for the caller to send (after it detached every gate of the group, so that sending them
     * never delays the end of another gate's hold), or null when its lease had already ended it.
     */
    List<Runnable> detach(Hold held) {
        List<Runnable> replies = end(held, false);
        if (replies != null) {
            held.lease.cancel(false);
        }
        return replies;
    }

    private void expire(Hold held) {
        List<Runnable> replies = end(held, true);
        if (replies != null) {
            log.warn("lease of the hold on {} expired after {} us: replies released without a commit",
                    volume, held.heldMicros);
            replies.forEach(Runnable::run);
        }
    }

    private List<Runnable> end(Hold held, boolean byLease) {
        lock.lock();
        try {
            if (hold != held) {
                return null;
            }
            hold = null;
            held.heldMicros = (System.nanoTime() - held.startNanos) / 1000;
            held.expired = byLease;
            return held.replies;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------- internals

    private <T> void launch(boolean mutation, long tag, LongFunction<CompletableFuture<T>> op,
            CompletableFuture<T> reply) {
        apply(op, tag).whenComplete((value, failure) -> finished(mutation, tag, reply, value, failure));
    }

    private static <T> CompletableFuture<T> apply(LongFunction<CompletableFuture<T>> op, long tag) {
        try {
            return op.apply(tag);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** An op is done: counts a mutation out, and sends or holds {@code reply} (null: the caller has the op's own future). */
    private <T> void finished(boolean mutation, long tag, CompletableFuture<T> reply, T value, Throwable failure) {
        List<Parked<?>> start = List.of();
        List<CompletableFuture<Void>> drained = List.of();
        boolean held = false;
        lock.lock();
        try {
            if (mutation && --runningMutations == 0) {
                start = advance();
                drained = takeDrained();
            }
            if (reply != null && hold != null && tag >= hold.from) {
                hold.replies.add(() -> complete(reply, value, failure));
                held = true;
            }
        } finally {
            lock.unlock();
        }
        drained.forEach(future -> future.complete(null));
        for (Parked<?> next : start) {
            next.launch(this);
        }
        if (reply != null && !held) {
            complete(reply, value, failure);
        }
    }

    /** With no mutation running: lets the oldest parked epoch's mutations run. Under the lock. */
    private List<Parked<?>> advance() {
        if (parked.isEmpty()) {
            mutationEpoch = epoch;
            return List.of();
        }
        mutationEpoch = parked.peekFirst().tag;
        List<Parked<?>> start = new ArrayList<>();
        while (!parked.isEmpty() && parked.peekFirst().tag == mutationEpoch) {
            start.add(parked.pollFirst());
        }
        runningMutations += start.size();
        return start;
    }

    private boolean isDrained(long sealed) {
        return (runningMutations == 0 || mutationEpoch > sealed)
                && (parked.isEmpty() || parked.peekFirst().tag > sealed);
    }

    private List<CompletableFuture<Void>> takeDrained() {
        List<CompletableFuture<Void>> done = new ArrayList<>();
        for (Iterator<Map.Entry<Long, CompletableFuture<Void>>> it = drainWaiters.entrySet().iterator(); it
                .hasNext();) {
            Map.Entry<Long, CompletableFuture<Void>> waiter = it.next();
            if (!isDrained(waiter.getKey())) {
                break;
            }
            done.add(waiter.getValue());
            it.remove();
        }
        return done;
    }

    private static <T> void complete(CompletableFuture<T> reply, T value, Throwable failure) {
        if (failure == null) {
            reply.complete(value);
        } else {
            reply.completeExceptionally(failure);
        }
    }

    @Override
    public String toString() {
        return "gate of " + volume;
    }

    /** A mutation waiting for older epochs' mutations to finish. */
    private record Parked<T>(long tag, LongFunction<CompletableFuture<T>> op, CompletableFuture<T> reply) {
        void launch(EpochGate gate) {
            gate.launch(true, tag, op, reply);
        }
    }

    /** Replies held on one gate from epoch {@code from} on. */
    static final class Hold {
        final EpochGate gate;
        final long from;
        final long startNanos = System.nanoTime();
        final List<Runnable> replies = new ArrayList<>();
        ScheduledFuture<?> lease;
        /** Set when the hold ends. */
        volatile long heldMicros;
        volatile boolean expired;

        Hold(EpochGate gate, long from) {
            this.gate = gate;
            this.from = from;
        }
    }
}

package cgw.replication;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * A window of block bodies on their way to the replica: at most {@code window} unanswered, the
 * sender waiting for the oldest when it is full. The first failure ends the epoch: it is thrown
 * by the next {@link #send} or by {@link #awaitAll}. Bodies of one epoch describe disjoint
 * ranges, so the replica may write them in any order. Threads: one sender.
 */
final class InFlightBodies {
    private final int window;
    private final Deque<CompletableFuture<Void>> pending = new ArrayDeque<>();
    private long waitedNanos;

    InFlightBodies(int window) {
        this.window = window;
    }

    void send(Supplier<CompletableFuture<Void>> body) {
        while (pending.size() >= window) {
            await(pending.removeFirst());
        }
        pending.addLast(body.get());
        // a failure seen early spares sending the rest of the epoch
        while (!pending.isEmpty() && pending.peekFirst().isDone()) {
            await(pending.removeFirst());
        }
    }

    void awaitAll() {
        while (!pending.isEmpty()) {
            await(pending.removeFirst());
        }
    }

    /** Time the sender spent waiting for answers, in {@link #send} and {@link #awaitAll}. */
    long waitedNanos() {
        return waitedNanos;
    }

    private void await(CompletableFuture<Void> answer) {
        long started = System.nanoTime();
        try {
            answer.join();
        } catch (CompletionException e) {
            pending.forEach(other -> other.cancel(false));
            pending.clear();
            throw ReplicaClient.unwrap(e);
        } finally {
            waitedNanos += System.nanoTime() - started;
        }
    }
}

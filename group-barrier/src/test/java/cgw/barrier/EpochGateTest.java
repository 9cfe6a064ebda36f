package cgw.barrier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class EpochGateTest {
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

    @AfterEach
    void stopTimer() {
        timer.shutdownNow();
    }

    /** An op that records the epoch it was started with and completes when the test says so. */
    private static final class Op {
        final CompletableFuture<String> applied = new CompletableFuture<>();
        volatile long startedIn = -1;

        CompletableFuture<String> start(long epoch) {
            startedIn = epoch;
            return applied;
        }
    }

    private static EpochGate.Hold switchGate(EpochGate gate, long next, long leaseNanos,
            ScheduledExecutorService timer) {
        gate.lock();
        try {
            return gate.switchAndHold(next, leaseNanos, timer);
        } finally {
            gate.unlock();
        }
    }

    @Test
    void repliesOfRequestsAdmittedAfterTheSwitchWaitForTheRelease() {
        EpochGate gate = new EpochGate("vm1", 5);
        Op before = new Op();
        CompletableFuture<String> beforeReply = gate.submit(false, before::start);
        long beforeSwitchNanos = System.nanoTime();
        EpochGate.Hold hold = switchGate(gate, 6, TimeUnit.SECONDS.toNanos(30), timer);
        long afterSwitchNanos = System.nanoTime();
        Op read = new Op();
        CompletableFuture<String> readReply = gate.submit(false, read::start);
        assertThat(read.startedIn).as("reads run at once").isEqualTo(6);

        before.applied.complete("old");
        read.applied.complete("new");
        assertThat(beforeReply).as("admitted before the switch: not held").isCompletedWithValue("old");
        assertThat(readReply).as("admitted after the switch: held").isNotDone();

        long beforeReleaseNanos = System.nanoTime();
        assertThat(gate.release(hold)).isTrue();
        long afterReleaseNanos = System.nanoTime();
        assertThat(readReply).isCompletedWithValue("new");
        assertThat(hold.expired).as("released, not expired").isFalse();
        // the hold began inside switchGate and ended inside release: its length lies between what the test saw
        assertThat(hold.heldMicros).as("the freeze a barrier reports")
                .isBetween((beforeReleaseNanos - afterSwitchNanos) / 1000,
                        (afterReleaseNanos - beforeSwitchNanos) / 1000);
        assertThat(gate.release(hold)).as("a hold ends once").isFalse();
    }

    @Test
    void newerMutationsWaitForOlderOnesAndTheEpochDrains() {
        EpochGate gate = new EpochGate("vm1", 1);
        Op old = new Op();
        CompletableFuture<String> oldReply = gate.submit(true, old::start);
        assertThat(old.startedIn).isEqualTo(1);
        EpochGate.Hold hold = switchGate(gate, 2, TimeUnit.SECONDS.toNanos(30), timer);
        CompletableFuture<Void> drained = gate.drained(1);

        Op newer = new Op();
        CompletableFuture<String> newerReply = gate.submit(true, newer::start);
        assertThat(newer.startedIn).as("parked behind the older write").isEqualTo(-1);
        gate.release(hold);
        assertThat(drained).isNotDone();

        old.applied.complete("w1");
        assertThat(oldReply).isCompletedWithValue("w1");
        assertThat(drained).isDone();
        assertThat(newer.startedIn).as("started once the older epoch drained, in its own epoch").isEqualTo(2);
        newer.applied.complete("w2");
        assertThat(newerReply).isCompletedWithValue("w2");
        assertThat(gate.drained(1)).isDone();
    }

    @Test
    void aLeaseReleasesHeldRepliesWhenNobodyCommits() {
        EpochGate gate = new EpochGate("vm1", 1);
        long leaseMicros = TimeUnit.MILLISECONDS.toMicros(50);
        long beforeSwitchNanos = System.nanoTime();
        EpochGate.Hold hold = switchGate(gate, 2, TimeUnit.MICROSECONDS.toNanos(leaseMicros), timer);
        Op read = new Op();
        CompletableFuture<String> reply = gate.submit(false, read::start);
        read.applied.complete("data");
        assertThat(reply.orTimeout(5, TimeUnit.SECONDS).join()).isEqualTo("data");
        long repliedNanos = System.nanoTime();
        assertThat(hold.expired).isTrue();
        assertThat(hold.heldMicros).as("held for the whole lease, and no longer than the test waited")
                .isBetween(leaseMicros, (repliedNanos - beforeSwitchNanos) / 1000);
        assertThat(gate.release(hold)).as("the coordinator learns its hold expired").isFalse();
    }

    @Test
    void failuresAreHeldAndDeliveredLikeResults() {
        EpochGate gate = new EpochGate("vm1", 1);
        EpochGate.Hold hold = switchGate(gate, 2, TimeUnit.SECONDS.toNanos(30), timer);
        CompletableFuture<String> reply = gate.submit(true, epoch -> {
            throw new IllegalStateException("disk on fire");
        });
        assertThat(reply).isNotDone();
        gate.release(hold);
        assertThatThrownBy(reply::join).hasRootCauseMessage("disk on fire");
        assertThat(gate.drained(1)).isDone();
    }

    @Test
    void manyEpochsOfParkedWritesRunInEpochOrder() throws Exception {
        EpochGate gate = new EpochGate("vm1", 1);
        List<CompletableFuture<String>> replies = new ArrayList<>();
        List<Long> order = java.util.Collections.synchronizedList(new ArrayList<>());
        // every op, once started, is applied on another thread, but none before all twelve were submitted
        CompletableFuture<Void> allSubmitted = new CompletableFuture<>();
        var pool = Executors.newFixedThreadPool(4);
        try {
            for (long epoch = 1; epoch <= 4; epoch++) {
                for (int i = 0; i < 3; i++) {
                    replies.add(gate.submit(true, e -> {
                        order.add(e);
                        return allSubmitted.thenApplyAsync(ignored -> "x", pool);
                    }));
                }
                gate.release(switchGate(gate, epoch + 1, TimeUnit.SECONDS.toNanos(30), timer));
            }
            assertThat(order).as("the first epoch's writes started, the newer ones are parked").containsExactly(1L, 1L,
                    1L);
            allSubmitted.complete(null);
            CompletableFuture.allOf(replies.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        } finally {
            pool.shutdown();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
        assertThat(order).hasSize(12).isSorted();
        assertThat(gate.drained(4)).isDone();
    }
}

package cgw.tools.metrics;

import cgw.barrier.BarrierBusyException;
import cgw.barrier.BarrierTimeoutException;
import cgw.barrier.GroupBarrier;
import cgw.barrier.Snapshot;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Counts the group barrier's snapshots and records each one's freeze (how long replies were held,
 * the longest over its volumes). Called on the thread that ran the barrier, after it finished;
 * it only adds to meters and never throws.
 */
final class SnapshotMetrics implements GroupBarrier.SnapshotListener {
    /** Bucket bounds of the freeze histogram, 10 µs to 100 ms: the freeze target is well under 1 ms. */
    static final Duration[] FREEZE_BUCKETS = Buckets.between(10_000, 100_000_000);

    private final Timer freeze;
    private final Counter taken;
    private final Counter timedOut;
    private final Counter busy;
    private final Counter other;

    SnapshotMetrics(MeterRegistry registry) {
        freeze = Timer.builder("cgw.barrier.freeze")
                .description("Freeze of each snapshot taken: replies held from the first gate's switch to the release")
                .serviceLevelObjectives(FREEZE_BUCKETS)
                .register(registry);
        taken = Counter.builder("cgw.snapshots.taken").description("Group snapshots taken and published")
                .register(registry);
        timedOut = failed(registry, "timeout");
        busy = failed(registry, "busy");
        other = failed(registry, "other");
    }

    private static Counter failed(MeterRegistry registry, String reason) {
        return Counter.builder("cgw.snapshots.failed")
                .description("Barriers that published nothing: timeout (did not complete in timeoutMs), busy (other "
                        + "barriers held a volume all along), other (a store failure)")
                .tag("reason", reason)
                .register(registry);
    }

    @Override
    public void taken(Snapshot snapshot) {
        freeze.record(snapshot.freezeMicros(), TimeUnit.MICROSECONDS);
        taken.increment();
    }

    @Override
    public void failed(RuntimeException failure) {
        if (failure instanceof BarrierTimeoutException) {
            timedOut.increment();
        } else if (failure instanceof BarrierBusyException) {
            busy.increment();
        } else {
            other.increment();
        }
    }
}

package cgw.replication;

import cgw.barrier.NotFoundException;
import cgw.barrier.Snapshot;
import cgw.host.NamedThreads;
import cgw.host.Pacer;
import cgw.store.Volume;
import cgw.store.VolumeNotFoundException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The primary's loop for one group: cut, ship the delta since the newest epoch both sides hold,
 * commit, every interval, one epoch in flight (docs/replication.md, "The protocol"). A ship slower
 * than the interval makes the next cut wait; that cut ships the union of what changed meanwhile.
 * A failed call pauses the loop with a growing delay; a refusal stops it.
 *
 * <p>Threads: its own, named {@code cgw-ship-GROUP}; {@link #stop} from any other. Never
 * interrupted: the store's files must not see an interrupt.
 */
final class Shipper {
    private static final Logger log = LoggerFactory.getLogger(Shipper.class);
    static final Duration CUT_TIMEOUT = Duration.ofSeconds(10);
    static final long MAX_RETRY_DELAY_MS = 10_000;
    /** A cut never takes longer than its timeout; reading a run of blocks takes milliseconds. */
    static final long STOP_WAIT_MS = CUT_TIMEOUT.toMillis() + 5_000;
    /**
     * Bodies sent and not yet answered: over a link with a round trip of 10 ms, one at a time
     * would cap shipping at 1 MiB per round trip.
     */
    static final int BODIES_IN_FLIGHT = 8;
    static final long PROBE_MS = 1000;

    private final Replication replication;
    private final GroupState state;
    private final Target target;
    private final ReplicaClient client;
    private final Object wake = new Object();
    private final CompressionLevel level = new CompressionLevel();
    private volatile boolean stopped;
    private @Nullable Thread thread;
    private boolean lagging;
    /** The origin of the epoch the replica last acknowledged to this shipper; null after any failure. */
    private @Nullable String acknowledged;

    Shipper(Replication replication, GroupState state, Target target) {
        this.replication = replication;
        this.state = state;
        this.target = target;
        this.client = new ReplicaClient(target, state.name);
    }

    void start() {
        Thread started = NamedThreads.thread("cgw-ship-" + state.name, true, this::run);
        thread = started;
        started.start();
    }

    /** Ends the loop: the calls in flight are cancelled, the epoch abandoned; waits for the thread. */
    void stop() {
        stopped = true;
        client.abort();
        synchronized (wake) {
            wake.notifyAll();
        }
        Thread running = thread;
        if (running != null && running != Thread.currentThread()) {
            try {
                running.join(STOP_WAIT_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        long nextCut = System.currentTimeMillis();
        int failures = 0;
        boolean unanswered = false;
        while (!stopped) {
            if (unanswered) {
                // nobody answered (a cut link, a replica down): knock often and ship as soon as it
                // answers, so that a healed link costs a knock of lag, not the rest of a backoff
                if (!sleepUntil(Math.min(nextCut, System.currentTimeMillis() + probeMillis()))) {
                    break;
                }
                if (System.currentTimeMillis() < nextCut && !client.answers()) {
                    continue;
                }
            } else if (!sleepUntil(nextCut)) {
                break;
            }
            nextCut = System.currentTimeMillis() + target.intervalMs();
            try {
                shipOnce();
                failures = 0;
                unanswered = false;
                watchLag();
            } catch (ReplicaClient.RefusedException | NotFoundException | VolumeNotFoundException e) {
                // refused by the replica, or the group (or a volume of it) deleted here: retrying cannot help
                log.error("group {}: replication stopped: {}", state.name, e.getMessage());
                state.state("failed", e.getMessage());
                return;
            } catch (RuntimeException e) {
                failures++;
                unanswered = e instanceof ReplicaClient.LinkException link && link.unanswered;
                long delay = Math.min(MAX_RETRY_DELAY_MS, target.intervalMs() << Math.min(failures, 16));
                log.warn("group {}: shipping failed ({} in a row), retrying {}{} ms: {}", state.name, failures,
                        unanswered ? "when the replica answers, at the latest in " : "in ", delay, e.getMessage());
                log.debug("group {}: shipping failure", state.name, e);
                state.state("paused", e.getMessage());
                nextCut = System.currentTimeMillis() + delay;
            }
        }
    }

    /** How often an unanswering replica is asked whether it answers again. */
    private long probeMillis() {
        return Math.min(target.intervalMs(), PROBE_MS);
    }

    private boolean sleepUntil(long wallMillis) {
        synchronized (wake) {
            long wait;
            while (!stopped && (wait = wallMillis - System.currentTimeMillis()) > 0) {
                try {
                    wake.wait(wait);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
        return !stopped;
    }

    /** Cuts the group and ships the epoch; returns its snapshot here once the replica holds it complete. */
    Snapshot shipOnce() {
        Snapshot cut = replication.barrier.snapshotGroup(state.name, Replication.LABEL, CUT_TIMEOUT);
        Staged staged;
        try {
            staged = stage(cut);
        } catch (RuntimeException e) {
            discard(cut, e);
            throw e;
        }
        // from here the replica may hold the epoch even if its answer is lost: the cut is kept
        DeltaReader.Sent sent = staged.sent();
        Wire.CommitReply reply = client.commit(new Wire.Commit(staged.generation(), replication.self,
                staged.origin().toString(), sent.bodies(), sent.describedBytes()));
        acknowledged = staged.origin().toString();
        state.completed(cut.id(), cut.createdAtMillis(), staged.wireBytes(), sent.dataBytes());
        state.state("replicating", null);
        Snapshot base = staged.base();
        log.debug("group {}: epoch {} complete on the replica as snapshot {} ({} from {}, {} bodies, {} bytes"
                + " of data, {} on the wire)", state.name, cut.id(), reply.snapshot(),
                base == null ? "whole" : "delta", base == null ? "-" : base.id(), sent.bodies(), sent.dataBytes(),
                staged.wireBytes());
        retire(cut);
        return cut;
    }

    /** An epoch begun on the replica, every body of it answered for: what its commit needs. */
    private record Staged(long generation, Origin origin, @Nullable Snapshot base, DeltaReader.Sent sent,
            long wireBytes) {
    }

    /**
     * Deletes a cut that failed before its commit was sent: the replica cannot hold it, and the
     * next attempt cuts anew (one kept per attempt would pile up while a link stays down).
     */
    private void discard(Snapshot cut, RuntimeException failure) {
        try {
            replication.retire(cut);
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    /** Begins the epoch of {@code cut} on the replica and sends its bodies; nothing is committed yet. */
    private Staged stage(Snapshot cut) {
        GroupRecord record = state.record();
        long generation = record.generation();
        List<Volume> volumes = new ArrayList<>();
        List<Wire.VolumeSize> sizes = new ArrayList<>();
        for (Snapshot.Member member : cut.members()) {
            Volume volume = replication.store.volume(member.volume());
            volumes.add(volume);
            sizes.add(new Wire.VolumeSize(member.volume(), replication.store.sizeBytes(volume, member.epoch())));
        }
        String known = acknowledged;
        acknowledged = null; // set again once this epoch is acknowledged: a failure makes the next one ask
        // the replica holds the last epoch it acknowledged to this shipper (it keeps at least one):
        // that is the base, without a hello's round trip; begin fences as hello would
        Snapshot base = known == null ? null : base(cut, Set.of(known));
        long helloNanos = Long.MAX_VALUE;
        if (base == null) {
            long helloStarted = System.nanoTime();
            Wire.HelloReply hello = client.hello(new Wire.Hello(generation, replication.self, sizes));
            helloNanos = System.nanoTime() - helloStarted;
            base = base(cut, new HashSet<>(hello.held()));
        }
        Origin origin = replication.originOf(cut);
        long beginStarted = System.nanoTime();
        client.begin(new Wire.Begin(generation, replication.self, origin.toString(), cut.createdAtMillis(),
                base == null ? null : replication.originOf(base).toString(), target.keep(), sizes));
        long packingStarted = System.nanoTime();
        long roundTrip = Math.min(helloNanos, packingStarted - beginStarted);
        List<DeltaReader.Part> parts = new ArrayList<>();
        for (int i = 0; i < volumes.size(); i++) {
            Snapshot.Member member = cut.members().get(i);
            Long baseEpoch = base == null
                    ? null
                    : base.member(member.volumeId()).map(Snapshot.Member::epoch)
                            .orElse(null);
            parts.add(new DeltaReader.Part(volumes.get(i), member.epoch(), baseEpoch));
        }
        Pacer pacer = new Pacer(target.bandwidthBytesPerSec() == null
                ? Pacer.UNLIMITED
                : target.bandwidthBytesPerSec());
        long[] wireBytes = new long[1];
        InFlightBodies inFlight = new InFlightBodies(BODIES_IN_FLIGHT);
        // per epoch, not per shipper: an idle group keeps no megabytes of arrays (a gateway may ship many)
        BodyBuffers buffers = new BodyBuffers(BODIES_IN_FLIGHT + 1);
        int levelBefore = level.level();
        level.epochStarted(packingStarted);
        DeltaReader.Sent sent = new DeltaReader(replication.store, generation, origin.snapshot(), level::level,
                buffers, body -> {
                    long waitedBefore = inFlight.waitedNanos();
                    // given back only once answered: a failed call's array may still be read
                    inFlight.send(() -> client.blocks(body).thenRun(() -> buffers.give(body.array())));
                    wireBytes[0] += body.length();
                    long pacing = System.nanoTime();
                    pacer.paceKeepingInterrupt(body.length());
                    long now = System.nanoTime();
                    level.bodySent(now, inFlight.waitedNanos() - waitedBefore + now - pacing);
                }).send(parts);
        long waitedBefore = inFlight.waitedNanos();
        inFlight.awaitAll();
        level.epochEnded(System.nanoTime(), inFlight.waitedNanos() - waitedBefore, roundTrip);
        if (level.level() != levelBefore) {
            log.debug("group {}: zstd level {} -> {} over epoch {} ({} ms of waiting on the link in {} ms)",
                    state.name, levelBefore, level.level(), cut.id(), inFlight.waitedNanos() / 1_000_000,
                    (System.nanoTime() - packingStarted) / 1_000_000);
        }
        return new Staged(generation, origin, base, sent, wireBytes[0]);
    }

    /** The newest snapshot of the group here, other than {@code cut}, that the replica holds too. */
    private @Nullable Snapshot base(Snapshot cut, Set<String> held) {
        for (Snapshot snapshot : replication.snapshotsNewestFirst(state.name)) {
            if (snapshot.id() != cut.id() && held.contains(replication.originOf(snapshot).toString())) {
                return snapshot;
            }
        }
        return null;
    }

    /** Deletes this group's replication snapshots older than the newest {@code keep} up to {@code cut}. */
    private void retire(Snapshot cut) {
        int kept = 0;
        for (Snapshot snapshot : replication.snapshotsNewestFirst(state.name)) {
            if (snapshot.id() > cut.id() || !Replication.LABEL.equals(snapshot.label())) {
                continue;
            }
            if (++kept > target.keep()) {
                replication.retire(snapshot);
            }
        }
    }

    private void watchLag() {
        long lag = System.currentTimeMillis() - state.lastCreatedAt();
        boolean now = lag > 3 * target.intervalMs();
        if (now && !lagging) {
            log.warn("group {}: replication lag {} ms is more than 3 intervals of {} ms", state.name, lag,
                    target.intervalMs());
        } else if (!now && lagging) {
            log.info("group {}: replication lag back to {} ms", state.name, lag);
        }
        lagging = now;
    }
}

package cgw.replication;

import cgw.barrier.Snapshot;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jspecify.annotations.Nullable;

/**
 * What one gateway knows of one replicated group now: its record, the shipper (on a primary),
 * the epoch being applied (on a replica), and the figures its status shows. Fields are guarded
 * by the instance's monitor; {@link #apply} serialises the calls that change the volumes (begin,
 * commit, promote, demote: its write side), while bodies of blocks of one epoch, whose records
 * never overlap, are written side by side (its read side).
 */
final class GroupState {
    final String name;
    final ReentrantReadWriteLock apply = new ReentrantReadWriteLock();

    private GroupRecord record;
    /** The snapshot exports of {@code VOLUME} show while the group is not writable here. */
    private @Nullable Snapshot pinned;
    private @Nullable Shipper shipper;
    private @Nullable OpenEpoch open;
    private String state = "stopped";
    private @Nullable String error;
    private long bytes;
    private long changed;
    private long epochs;
    /** The newest epoch complete on the replica: its local snapshot here and its cut time (primary clock). */
    private long lastSnapshot;
    private long lastCreatedAt;
    private long startedAt = System.currentTimeMillis();

    GroupState(String name, GroupRecord record) {
        this.name = name;
        this.record = record;
    }

    synchronized GroupRecord record() {
        return record;
    }

    synchronized void record(GroupRecord updated) {
        record = updated;
    }

    synchronized @Nullable Snapshot pinned() {
        return pinned;
    }

    synchronized void pinned(@Nullable Snapshot snapshot) {
        pinned = snapshot;
    }

    synchronized @Nullable Shipper shipper() {
        return shipper;
    }

    synchronized void shipper(@Nullable Shipper running) {
        shipper = running;
        startedAt = System.currentTimeMillis();
    }

    synchronized @Nullable OpenEpoch open() {
        return open;
    }

    synchronized void open(@Nullable OpenEpoch epoch) {
        open = epoch;
    }

    synchronized void state(String newState, @Nullable String newError) {
        state = newState;
        error = newError;
    }

    /**
     * An epoch is complete on the replica: {@code shippedBytes} of bodies carried
     * {@code changedBytes} of block data (both 0 where the caller counts them as they come).
     */
    synchronized void completed(long snapshot, long createdAt, long shippedBytes, long changedBytes) {
        lastSnapshot = snapshot;
        lastCreatedAt = createdAt;
        bytes += shippedBytes;
        changed += changedBytes;
        epochs++;
    }

    /** A new role starts its figures from zero: a promoted replica has shipped nothing yet. */
    synchronized void roleChanged() {
        bytes = 0;
        changed = 0;
        epochs = 0;
        lastSnapshot = 0;
        lastCreatedAt = 0;
        startedAt = System.currentTimeMillis();
    }

    synchronized void addBytes(long moreBytes, long moreChanged) {
        bytes += moreBytes;
        changed += moreChanged;
    }

    synchronized long lastCreatedAt() {
        return lastCreatedAt;
    }

    /** The status as the API shows it, {@code now} by this gateway's clock. */
    synchronized ReplicationStatus status(long now) {
        Target target = record.target();
        String shown = state;
        if (record.role() == Role.PRIMARY && record.demoted()) {
            shown = "demoted";
        } else if (record.role() == Role.PRIMARY && target == null) {
            shown = "stopped";
        } else if (record.role() == Role.REPLICA) {
            shown = lastSnapshot == 0 ? "syncing" : "replicating";
        }
        long since = lastCreatedAt != 0 ? lastCreatedAt : startedAt;
        Long lag = record.role() == Role.PRIMARY && (target == null || record.demoted())
                ? null
                : Math.max(0, now - since);
        return new ReplicationStatus(name, record.role().wireName(), shown, target == null ? null : target.url(),
                target == null ? null : target.intervalMs(), lastSnapshot == 0 ? null : lastSnapshot,
                lastCreatedAt == 0 ? null : java.time.Instant.ofEpochMilli(lastCreatedAt).toString(), lag, bytes,
                changed, epochs, record.generation(), error);
    }
}

package cgw.replication;

import cgw.barrier.ConflictException;
import cgw.barrier.Group;
import cgw.barrier.GroupBarrier;
import cgw.barrier.NotFoundException;
import cgw.barrier.Snapshot;
import cgw.store.BlockStore;
import cgw.store.CatalogChanges;
import cgw.store.Volume;
import cgw.store.VolumeInUseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replication of this gateway's groups (docs/replication.md): the primary's shippers, the replica's
 * side of the protocol ({@link ReplicaSide}), failover, and what the NBD exports of a group that
 * is not writable here show. Opened after the barrier; a primary resumes shipping by itself.
 *
 * <p>Threads: any. Changes of one group serialise on its {@link GroupState#apply} lock.
 */
public final class Replication implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Replication.class);
    /** Label of the snapshots a primary cuts to ship. */
    static final String LABEL = "replication";

    final BlockStore store;
    final GroupBarrier barrier;
    final ReplicationCatalog catalog;
    final String self;
    private final Map<String, GroupState> groups = new ConcurrentHashMap<>();
    /** Local snapshot id to its origin, for the snapshots cut elsewhere. */
    private final Map<Long, Origin> origins = new ConcurrentHashMap<>();
    /** Volumes of groups not writable here, to the group. */
    private volatile Map<String, GroupState> pinnedVolumes = Map.of();
    private final ReplicaSide replica;

    private Replication(BlockStore store, GroupBarrier barrier) {
        this.store = store;
        this.barrier = barrier;
        this.catalog = new ReplicationCatalog(store);
        this.self = catalog.gatewayId();
        this.replica = new ReplicaSide(this);
    }

    /** Loads the replicated groups and starts shipping those this gateway is the primary of. */
    public static Replication open(BlockStore store, GroupBarrier barrier) {
        Replication replication = new Replication(store, barrier);
        replication.load();
        return replication;
    }

    private void load() {
        origins.putAll(catalog.origins());
        catalog.groups().forEach((name, record) -> {
            GroupState state = new GroupState(name, record);
            groups.put(name, state);
            Snapshot newest = newestSnapshot(name);
            if (!record.writable()) {
                state.pinned(newest);
            }
            if (record.role() == Role.REPLICA && newest != null) {
                state.completed(newest.id(), newest.createdAtMillis(), 0, 0);
            }
        });
        refreshViews();
        groups.values().forEach(state -> {
            GroupRecord record = state.record();
            if (record.role() == Role.PRIMARY && record.target() != null && !record.demoted()) {
                startShipper(state, record.target());
            }
        });
        log.info("replication: gateway id {}, {} replicated groups", self, groups.size());
    }

    /** The replica's side of the protocol, for the REST routes under {@code /v1/replication}. */
    public ReplicaSide replica() {
        return replica;
    }

    // ---------------------------------------------------------------- the REST calls of CONTRACT.md

    /** The status of a group; a group that was never replicated shows as a stopped primary. */
    public ReplicationStatus status(String group) {
        barrier.group(group);
        GroupState state = groups.get(group);
        if (state == null) {
            return new ReplicationStatus(group, Role.PRIMARY.wireName(), "stopped", null, null, null, null, null, 0, 0,
                    0,
                    0, null);
        }
        return state.status(System.currentTimeMillis());
    }

    public List<ReplicationStatus> statuses() {
        long now = System.currentTimeMillis();
        return groups.values().stream().map(state -> state.status(now)).toList();
    }

    /** Starts shipping {@code group} to {@code target}, or changes where and how; the group must be writable here. */
    public ReplicationStatus start(String group, Target target) {
        barrier.group(group);
        GroupState state = groups.computeIfAbsent(group,
                name -> new GroupState(name, new GroupRecord(Role.PRIMARY, 1, null, false, null)));
        state.apply.writeLock().lock();
        try {
            if (groups.get(group) != state) {
                throw new NotFoundException("no group named " + group); // deleted meanwhile
            }
            GroupRecord record = state.record();
            if (record.role() == Role.REPLICA) {
                throw new ConflictException("group " + group + " is a replica on this gateway (of " + record.primary()
                        + "); promote it before shipping it anywhere");
            }
            if (record.demoted()) {
                throw new ConflictException("group " + group + " was demoted on this gateway; promote it here, or"
                        + " start replication on the gateway that was promoted");
            }
            stopShipper(state);
            GroupRecord updated = record.withTarget(target);
            catalog.write(ReplicationCatalog.putGroup(new CatalogChanges(), group, updated));
            state.record(updated);
            startShipper(state, target);
            log.info("group {}: shipping to {} every {} ms, keeping {} (generation {})", group, target.url(),
                    target.intervalMs(), target.keep(), updated.generation());
        } finally {
            state.apply.writeLock().unlock();
        }
        return status(group);
    }

    /** Stops shipping {@code group}; the replica keeps what it has. */
    public void stop(String group) {
        barrier.group(group);
        GroupState state = groups.get(group);
        if (state == null || state.record().target() == null) {
            throw new NotFoundException("group " + group + " is not being replicated from this gateway");
        }
        state.apply.writeLock().lock();
        try {
            stopShipper(state);
            GroupRecord updated = state.record().withTarget(null);
            catalog.write(ReplicationCatalog.putGroup(new CatalogChanges(), group, updated));
            state.record(updated);
            state.state("stopped", null);
            log.info("group {}: replication stopped", group);
        } finally {
            state.apply.writeLock().unlock();
        }
    }

    /**
     * Deletes {@code group}'s record (its volumes and snapshots stay) together with what this
     * gateway knows of its replication, so that a later group of the same name starts afresh.
     * Refused while replication holds it: shipped from here (stop replication first), a replica
     * here, or demoted here (promote it first); either way its volumes would otherwise turn
     * writable, or its shipper would cut a group that no longer exists.
     */
    public void deleteGroup(String group) {
        barrier.group(group);
        GroupState state = groups.get(group);
        if (state == null) {
            barrier.deleteGroup(group);
            return;
        }
        state.apply.writeLock().lock();
        try {
            GroupRecord record = state.record();
            if (record.role() == Role.REPLICA) {
                throw new ConflictException("group " + group + " is a replica on this gateway (of " + record.primary()
                        + "); promote it before deleting it");
            }
            if (record.demoted()) {
                throw new ConflictException("group " + group + " was demoted on this gateway; promote it here before"
                        + " deleting it");
            }
            Target target = record.target();
            if (target != null) {
                throw new ConflictException("group " + group + " is being replicated to " + target.url()
                        + "; stop replication first (DELETE /v1/groups/" + group + "/replication)");
            }
            catalog.write(ReplicationCatalog.deleteGroup(new CatalogChanges(), group));
            groups.remove(group, state);
            barrier.deleteGroup(group);
            log.info("group {}: its replication record is forgotten with it", group);
        } finally {
            state.apply.writeLock().unlock();
        }
    }

    /**
     * Planned failover, on the primary: the group's volumes turn read-only, the final epoch is
     * shipped, and the id of its snapshot here is returned once the replica holds it complete.
     */
    public long demote(String group) {
        barrier.group(group);
        GroupState state = groups.get(group);
        Target target = state == null ? null : state.record().target();
        if (state == null || target == null || state.record().role() != Role.PRIMARY) {
            throw new ConflictException("group " + group + " is not being replicated from this gateway; nothing to"
                    + " demote to");
        }
        state.apply.writeLock().lock();
        try {
            stopShipper(state);
            GroupRecord demoted = state.record().demoted(true);
            catalog.write(ReplicationCatalog.putGroup(new CatalogChanges(), group, demoted));
            state.record(demoted);
            refreshViews();
            Snapshot finalEpoch;
            try {
                finalEpoch = new Shipper(this, state, target).shipOnce();
            } catch (ReplicaClient.RefusedException e) {
                throw new ConflictException("the final epoch was refused: " + e.getMessage()
                        + "; the group stays demoted (read-only) here: promote it here to undo");
            } catch (ReplicaClient.LinkException e) {
                throw new ReplicaUnavailableException("the final epoch could not be shipped: " + e.getMessage()
                        + "; the group stays demoted (read-only): call demote again, or promote it here to undo", e);
            }
            state.pinned(finalEpoch);
            refreshViews();
            log.info("group {} demoted: its final epoch, snapshot {}, is complete on {}", group, finalEpoch.id(),
                    target.url());
            return finalEpoch.id();
        } finally {
            state.apply.writeLock().unlock();
        }
    }

    /**
     * Failover, on the replica (or a demoted primary): the volumes become writable at
     * {@code snapshotId} (the newest complete epoch when null) and the generation grows by one.
     */
    public Group promote(String group, @Nullable Long snapshotId) {
        barrier.group(group);
        GroupState state = groups.get(group);
        if (state == null || state.record().writable()) {
            throw new ConflictException("group " + group + " is writable on this gateway already; only a replica or"
                    + " a demoted primary is promoted");
        }
        return replica.promote(state, snapshotId);
    }

    // ---------------------------------------------------------------- what NBD exports show

    /**
     * The epoch export {@code VOLUME} shows: {@link BlockStore#HEAD} for a writable volume, the
     * pinned snapshot's epoch for a volume of a replica or demoted group, -1 when such a group has
     * no complete epoch yet (no export).
     */
    public long headView(Volume volume) {
        GroupState state = pinnedVolumes.get(volume.name());
        if (state == null) {
            return BlockStore.HEAD;
        }
        Snapshot pinned = state.pinned();
        if (pinned == null) {
            return -1;
        }
        return pinned.members().stream().filter(m -> m.volume().equals(volume.name()) && m.volumeId() == volume.id())
                .mapToLong(Snapshot.Member::epoch).findFirst().orElse(-1);
    }

    /** Whether writes to {@code volume}'s head are allowed now; checked after the gate tags each. */
    public boolean writable(String volume) {
        return !pinnedVolumes.containsKey(volume);
    }

    /** Whether guests or users may change {@code group} here (snapshots of a replica are the replicated epochs). */
    public boolean isReplica(String group) {
        GroupState state = groups.get(group);
        return state != null && state.record().role() == Role.REPLICA;
    }

    // ---------------------------------------------------------------- shared with the shipper and the replica side

    @Nullable
    GroupState state(String group) {
        return groups.get(group);
    }

    GroupState stateOrNew(String group, GroupRecord record) {
        return groups.computeIfAbsent(group, name -> new GroupState(name, record));
    }

    Origin originOf(Snapshot snapshot) {
        Origin origin = origins.get(snapshot.id());
        return origin != null ? origin : new Origin(self, snapshot.id());
    }

    void originRecorded(long snapshot, Origin origin) {
        origins.put(snapshot, origin);
    }

    void originForgotten(long snapshot) {
        origins.remove(snapshot);
    }

    /**
     * Deletes a snapshot that replication no longer keeps, with its origin; one that an NBD
     * connection reads stays until a later round finds it closed.
     */
    void retire(Snapshot snapshot) {
        try {
            barrier.deleteSnapshot(snapshot.id(), ReplicationCatalog.deleteOrigin(new CatalogChanges(), snapshot.id()));
            originForgotten(snapshot.id());
        } catch (VolumeInUseException e) {
            log.debug("snapshot {} is kept beyond its time while it is read: {}", snapshot.id(), e.getMessage());
        }
    }

    /** The group's snapshots, newest first. */
    List<Snapshot> snapshotsNewestFirst(String group) {
        List<Snapshot> snapshots = new ArrayList<>(barrier.snapshots(group));
        snapshots.sort(Comparator.comparingLong(Snapshot::id).reversed());
        return snapshots;
    }

    @Nullable
    Snapshot newestSnapshot(String group) {
        List<Snapshot> snapshots = snapshotsNewestFirst(group);
        return snapshots.isEmpty() ? null : snapshots.get(0);
    }

    /** Recomputes which volumes are pinned (not writable here) after a group's record or membership changed. */
    void refreshViews() {
        Map<String, GroupState> pinned = new ConcurrentHashMap<>();
        for (GroupState state : groups.values()) {
            if (state.record().writable()) {
                continue;
            }
            try {
                barrier.group(state.name).volumes().forEach(volume -> pinned.put(volume, state));
            } catch (NotFoundException e) {
                log.warn("replicated group {} has no group record; its volumes are not pinned", state.name);
            }
        }
        pinnedVolumes = pinned;
    }

    void startShipper(GroupState state, Target target) {
        Shipper shipper = new Shipper(this, state, target);
        state.shipper(shipper);
        state.state("syncing", null);
        shipper.start();
    }

    void stopShipper(GroupState state) {
        Shipper shipper = state.shipper();
        if (shipper != null) {
            shipper.stop();
            state.shipper(null);
        }
    }

    @Override
    public void close() {
        groups.values().forEach(this::stopShipper);
    }
}

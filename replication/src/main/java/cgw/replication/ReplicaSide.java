package cgw.replication;

import cgw.barrier.ConflictException;
import cgw.barrier.Group;
import cgw.barrier.InvalidBarrierRequestException;
import cgw.barrier.NotFoundException;
import cgw.barrier.Snapshot;
import cgw.store.CatalogChanges;
import cgw.store.Names;
import cgw.store.Volume;
import cgw.store.VolumeNotFoundException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replica's side of the protocol (docs/replication.md): fencing by generation, staging an
 * epoch into the heads, publishing it for the whole group in one catalog write, and promotion.
 * Refusals are the barrier's exceptions, so the API answers them as it does the barrier's (409,
 * 404, 400). Threads: the REST store pool; one group's calls serialise on its apply lock.
 */
public final class ReplicaSide {
    private static final Logger log = LoggerFactory.getLogger(ReplicaSide.class);
    static final Duration PUBLISH_TIMEOUT = Duration.ofSeconds(60);

    private final Replication replication;

    ReplicaSide(Replication replication) {
        this.replication = replication;
    }

    /** Who this gateway is for the group, and which origins it holds (newest first). */
    public Wire.HelloReply hello(String group, Wire.Hello hello) {
        checkGroupName(group);
        GroupState state = admit(group, hello.generation(), hello.primary());
        long generation = state == null ? hello.generation() : state.record().generation();
        List<String> held = new ArrayList<>();
        if (groupExists(group)) {
            for (Snapshot snapshot : replication.snapshotsNewestFirst(group)) {
                held.add(replication.originOf(snapshot).toString());
            }
        }
        return new Wire.HelloReply(replication.self, generation, held);
    }

    /** Opens an epoch: the group and its volumes made or grown, the heads rolled back to the base. */
    public void begin(String group, Wire.Begin begin) {
        checkGroupName(group);
        Origin origin = origin(begin.origin(), "origin");
        Origin baseOrigin = begin.base() == null ? null : origin(begin.base(), "base");
        checkVolumes(begin.volumes());
        if (begin.keep() < 1 || begin.keep() > Target.MAX_KEEP) {
            throw new InvalidBarrierRequestException("keep must be from 1 to " + Target.MAX_KEEP);
        }
        GroupState known = admit(group, begin.generation(), begin.primary());
        GroupRecord asReplica = new GroupRecord(Role.REPLICA, begin.generation(), null, false, begin.primary());
        if (known == null) {
            for (Wire.VolumeSize volume : begin.volumes()) {
                if (volumeExists(volume.name())) {
                    throw new ConflictException("volume " + volume.name() + " exists on this gateway and is not part"
                            + " of a replica of group " + group);
                }
            }
        }
        GroupState state = replication.stateOrNew(group, asReplica);
        state.apply.writeLock().lock();
        try {
            admit(group, begin.generation(), begin.primary());
            GroupRecord record = state.record();
            if (record.role() != Role.REPLICA || record.generation() != begin.generation()) {
                replication.stopShipper(state);
                state.roleChanged();
                log.warn("group {}: now a replica of {} at generation {} (was {} at generation {})", group,
                        begin.primary(), begin.generation(), record.role().wireName(), record.generation());
            }
            if (!asReplica.equals(record) || known == null) {
                replication.catalog.write(ReplicationCatalog.putGroup(new CatalogChanges(), group, asReplica));
                state.record(asReplica);
            }
            state.open(null);
            List<Volume> volumes = prepareVolumes(group, begin.volumes());
            replication.refreshViews();
            Snapshot base = baseOrigin == null ? null : held(group, baseOrigin);
            for (Volume volume : volumes) {
                Optional<Snapshot.Member> member = base == null
                        ? Optional.empty()
                        : base.members().stream().filter(m -> m.volumeId() == volume.id()).findFirst();
                if (member.isPresent()) {
                    HeadRollback.toEpoch(replication.store, volume, member.get().epoch());
                } else {
                    HeadRollback.toEmpty(replication.store, volume);
                }
            }
            if (state.pinned() == null && base != null) {
                state.pinned(base);
            }
            state.open(new OpenEpoch(begin.generation(), begin.primary(), origin, begin.createdAt(), begin.keep(),
                    volumes));
            log.debug("group {}: epoch {} begun on base {}", group, origin, baseOrigin);
        } finally {
            state.apply.writeLock().unlock();
        }
    }

    /** Writes one body of blocks of the open epoch into the heads, beside other bodies of it. */
    public void blocks(String group, byte[] body) {
        BlockBodies.Header header;
        try {
            header = BlockBodies.header(body);
        } catch (BlockBodies.MalformedBodyException e) {
            throw new InvalidBarrierRequestException(e.getMessage());
        }
        GroupState state = openState(group);
        state.apply.readLock().lock();
        try {
            OpenEpoch open = openEpoch(state, header.generation(), header.originSnapshot());
            long[] dataBytes = new long[1];
            long[] described = new long[1];
            BlockApplier applier = new BlockApplier(replication.store);
            BlockBodies.records(body, (kind, index, offset, length, data) -> {
                if (index >= open.volumes.size()) {
                    throw new BlockBodies.MalformedBodyException("a block record names volume " + index + " of "
                            + open.volumes.size());
                }
                Volume volume = open.volumes.get(index);
                if (offset + length > volume.sizeBytes() || offset + length < 0) {
                    throw new BlockBodies.MalformedBodyException("a block record ends past the " + volume.sizeBytes()
                            + " bytes of " + volume.name());
                }
                switch (kind) {
                    case DATA -> {
                        applier.data(volume, offset, data);
                        dataBytes[0] += length;
                    }
                    case ZEROES -> {
                        applier.finish();
                        replication.store.writeZeroes(volume, offset, length);
                    }
                    case TRIM -> {
                        applier.finish();
                        replication.store.trim(volume, offset, length);
                    }
                }
                described[0] += length;
            });
            applier.finish();
            open.bytes.addAndGet(described[0]);
            open.bodies.incrementAndGet();
            state.addBytes(body.length, dataBytes[0]);
        } catch (BlockBodies.MalformedBodyException e) {
            throw new InvalidBarrierRequestException(e.getMessage());
        } finally {
            state.apply.readLock().unlock();
        }
    }

    /** Publishes the open epoch as a snapshot of the whole group, in one catalog write with its origin. */
    public Wire.CommitReply commit(String group, Wire.Commit commit) {
        Origin origin = origin(commit.origin(), "origin");
        GroupState state = openState(group);
        state.apply.writeLock().lock();
        try {
            OpenEpoch open = openEpoch(state, commit.generation(), origin.snapshot());
            if (!open.origin.equals(origin) || open.bodies.get() != commit.bodies()
                    || open.bytes.get() != commit.bytes()) {
                state.open(null);
                throw new EpochLostException("epoch " + origin + " was sent as " + commit.bodies() + " bodies of "
                        + commit.bytes() + " bytes, but " + open.bodies.get() + " bodies of " + open.bytes.get()
                        + " bytes of epoch " + open.origin + " arrived; it is abandoned");
            }
            replication.store.flush();
            Snapshot snapshot = replication.barrier.snapshotGroup(group, "replica of " + origin, PUBLISH_TIMEOUT,
                    (published, changes) -> ReplicationCatalog.putOrigin(changes, published.id(), origin));
            replication.originRecorded(snapshot.id(), origin);
            state.pinned(snapshot);
            state.open(null);
            state.completed(snapshot.id(), open.createdAt, 0, 0);
            retire(group, open.keep);
            log.debug("group {}: epoch {} complete as snapshot {}", group, origin, snapshot.id());
            return new Wire.CommitReply(snapshot.id());
        } finally {
            state.apply.writeLock().unlock();
        }
    }

    /** Makes a replica's (or demoted primary's) volumes writable at a snapshot it holds; generation + 1. */
    Group promote(GroupState state, @Nullable Long snapshotId) {
        state.apply.writeLock().lock();
        try {
            GroupRecord record = state.record();
            if (record.writable()) {
                throw new ConflictException("group " + state.name + " is writable on this gateway already");
            }
            Snapshot chosen = snapshotId == null
                    ? replication.newestSnapshot(state.name)
                    : replication.barrier.snapshot(snapshotId);
            if (chosen == null) {
                throw new ConflictException("group " + state.name + " has no complete epoch here to promote");
            }
            if (!state.name.equals(chosen.group())) {
                throw new NotFoundException("snapshot " + chosen.id() + " is not a snapshot of group " + state.name);
            }
            state.open(null);
            long start = System.nanoTime();
            for (String name : replication.barrier.group(state.name).volumes()) {
                Volume volume = replication.store.volume(name);
                Optional<Snapshot.Member> member = chosen.member(volume.id());
                if (member.isPresent()) {
                    HeadRollback.toEpoch(replication.store, volume, member.get().epoch());
                } else {
                    HeadRollback.toEmpty(replication.store, volume);
                }
            }
            replication.store.flush();
            GroupRecord promoted = new GroupRecord(Role.PRIMARY, record.generation() + 1, null, false, null);
            replication.catalog.write(ReplicationCatalog.putGroup(new CatalogChanges(), state.name, promoted));
            state.record(promoted);
            state.roleChanged();
            state.pinned(null);
            state.state("stopped", null);
            replication.refreshViews();
            log.info("group {} promoted at snapshot {} to generation {} in {} ms; its volumes are writable",
                    state.name, chosen.id(), promoted.generation(), (System.nanoTime() - start) / 1_000_000);
            return replication.barrier.group(state.name);
        } finally {
            state.apply.writeLock().unlock();
        }
    }

    // ---------------------------------------------------------------- checks

    /**
     * The group's state when a sender of {@code generation} from {@code primary} may ship into it,
     * null when the group is new here; refuses everything else (409).
     */
    private @Nullable GroupState admit(String group, long generation, String primary) {
        if (generation < 1) {
            throw new InvalidBarrierRequestException("generation must be positive, got " + generation);
        }
        if (primary == null || primary.isBlank()) { // a request's JSON may leave it out
            throw new InvalidBarrierRequestException("field 'primary' is required: the sending gateway's id");
        }
        if (primary.equals(replication.self)) {
            throw new ConflictException("this gateway is the sender: a group cannot be replicated to the gateway it"
                    + " lives on");
        }
        GroupState state = replication.state(group);
        if (state == null) {
            if (groupExists(group)) {
                throw new ConflictException("group " + group + " exists on this gateway and is not a replica");
            }
            return null;
        }
        GroupRecord record = state.record();
        if (generation < record.generation()) {
            throw new ConflictException("group " + group + " is at generation " + record.generation()
                    + " here; a sender of generation " + generation + " was failed over and may not ship into it");
        }
        if (generation == record.generation()) {
            if (record.role() == Role.PRIMARY) {
                throw new ConflictException("this gateway is the primary of group " + group + " at generation "
                        + generation + "; promote the other side before shipping back");
            }
            if (!primary.equals(record.primary())) {
                throw new ConflictException("group " + group + " here replicates gateway " + record.primary()
                        + ", not " + primary);
            }
        }
        return state;
    }

    private GroupState openState(String group) {
        checkGroupName(group);
        GroupState state = replication.state(group);
        if (state == null) {
            throw new ConflictException("group " + group + " is not a replica here: begin an epoch first");
        }
        return state;
    }

    private static OpenEpoch openEpoch(GroupState state, long generation, long originSnapshot) {
        OpenEpoch open = state.open();
        if (open == null) {
            throw new EpochLostException("no epoch of group " + state.name + " is open here (the replica restarted,"
                    + " was promoted, or another sender took over): begin it again");
        }
        if (open.generation != generation || open.origin.snapshot() != originSnapshot) {
            throw new EpochLostException("the open epoch of group " + state.name + " is " + open.origin
                    + " of generation " + open.generation + ", not snapshot " + originSnapshot + " of generation "
                    + generation);
        }
        return open;
    }

    /** The volumes of the epoch, made or grown, and the group's membership set to them. */
    private List<Volume> prepareVolumes(String group, List<Wire.VolumeSize> sizes) {
        List<Volume> volumes = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (Wire.VolumeSize size : sizes) {
            Volume volume;
            if (volumeExists(size.name())) {
                volume = replication.store.volume(size.name());
                String owner = groupOf(size.name());
                if (owner != null && !owner.equals(group)) {
                    throw new ConflictException("volume " + size.name() + " is in group " + owner + " here");
                }
                if (volume.sizeBytes() > size.size()) {
                    throw new ConflictException("volume " + size.name() + " is " + volume.sizeBytes()
                            + " bytes here, larger than the " + size.size() + " shipped; volumes do not shrink");
                }
                if (volume.sizeBytes() < size.size()) {
                    replication.store.grow(volume, size.size());
                }
            } else {
                volume = replication.store.createVolume(size.name(), size.size());
            }
            volumes.add(volume);
            names.add(size.name());
        }
        if (!groupExists(group)) {
            replication.barrier.createGroup(group, names);
        } else if (!new HashSet<>(replication.barrier.group(group).volumes()).equals(new HashSet<>(names))) {
            replication.barrier.setGroup(group, names);
        }
        return volumes;
    }

    /** The group's snapshot of {@code origin}; refused when this side no longer holds it. */
    private Snapshot held(String group, Origin origin) {
        for (Snapshot snapshot : replication.snapshotsNewestFirst(group)) {
            if (replication.originOf(snapshot).equals(origin)) {
                return snapshot;
            }
        }
        throw new EpochLostException("the base " + origin + " of the epoch is not held here any more; say hello"
                + " again for the origins this side holds");
    }

    /** Deletes the group's replicated snapshots beyond the newest {@code keep}. */
    private void retire(String group, int keep) {
        int kept = 0;
        for (Snapshot snapshot : replication.snapshotsNewestFirst(group)) {
            boolean replicated = !replication.originOf(snapshot).gateway().equals(replication.self)
                    || Replication.LABEL.equals(snapshot.label());
            if (replicated && ++kept > keep) {
                replication.retire(snapshot);
            }
        }
    }

    private boolean groupExists(String group) {
        return replication.barrier.groups().stream().anyMatch(g -> g.name().equals(group));
    }

    private @Nullable String groupOf(String volume) {
        return replication.barrier.groups().stream().filter(g -> g.volumes().contains(volume)).map(Group::name)
                .findFirst().orElse(null);
    }

    private boolean volumeExists(String name) {
        try {
            replication.store.volume(name);
            return true;
        } catch (VolumeNotFoundException e) {
            return false;
        }
    }

    private static void checkGroupName(String group) {
        if (!Names.isValid(group)) {
            throw new InvalidBarrierRequestException(Names.refusal("group", group));
        }
    }

    private static void checkVolumes(List<Wire.VolumeSize> volumes) {
        if (volumes == null || volumes.isEmpty()) {
            throw new InvalidBarrierRequestException("an epoch names at least one volume");
        }
        if (volumes.size() > 0xFFFF) {
            throw new InvalidBarrierRequestException("an epoch names at most 65535 volumes");
        }
        for (Wire.VolumeSize volume : volumes) {
            if (volume == null || !Names.isValid(volume.name()) || volume.size() <= 0) {
                throw new InvalidBarrierRequestException("each volume of an epoch has a valid name and a positive"
                        + " size");
            }
        }
    }

    private static Origin origin(String text, String field) {
        try {
            return Origin.parse(text);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new InvalidBarrierRequestException("field '" + field + "' is not GATEWAY/ID: " + text);
        }
    }
}

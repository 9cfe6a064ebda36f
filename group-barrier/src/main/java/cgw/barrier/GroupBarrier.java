package cgw.barrier;

import cgw.barrier.CatalogRecords.StoredSnapshot;
import cgw.host.NamedThreads;
import cgw.store.BlockStore;
import cgw.store.CatalogChanges;
import cgw.store.Names;
import cgw.store.StoreException;
import cgw.store.Volume;
import cgw.store.VolumeEpoch;
import cgw.store.VolumeExistsException;
import cgw.store.VolumeNotFoundException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Groups, group snapshots and the barrier that takes them, on one gateway.
 *
 * <p>A snapshot runs in four steps (see ARCHITECTURE.md and docs/barrier.md):
 * <ol>
 *   <li><b>Cut</b>: the store seals the head epoch E of every volume and a {@code pending}
 *       snapshot record is written in the same atomic catalog write, then synced. Gates still tag
 *       new requests E; their writes go to E although the store's head moved on.
 *   <li><b>Switch</b> (prepare): with every gate of the group locked, each moves to E+1 and starts
 *       holding the replies of what it admits from now on.
 *   <li><b>Release</b> (commit): every gate switched, so a reply of E+1 can no longer lead a
 *       guest to issue a request that lands in E anywhere in the group; the held replies go. The
 *       freeze a guest sees is steps 2 and 3: microseconds, no disk wait in it.
 *   <li><b>Seal and publish</b>: once the writes admitted in E before the switch have been
 *       applied, the record becomes {@code committed} (synced) and the snapshot is listed.
 * </ol>
 * If the barrier cannot finish within its timeout, the epochs are released and the record
 * deleted: nothing is published. A hold is also released by its lease if the coordinator fails.
 *
 * <p>Threads: any. Snapshots of overlapping volume sets serialise on per-volume locks (taken in
 * volume id order); group and catalog changes on {@code catalogLock}.
 */
public final class GroupBarrier implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GroupBarrier.class);
    /** Longest label a snapshot takes. */
    public static final int MAX_LABEL_LENGTH = 256;
    /** Timeout of a barrier whose caller gave none. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration MAX_TIMEOUT = Duration.ofMinutes(10);

    private static final BiConsumer<Snapshot, CatalogChanges> NO_RECORDS = (snapshot, changes) -> {
    };

    private final BlockStore store;
    private final ScheduledExecutorService leaseTimer;
    private final CoordinatorThread coordinator = new CoordinatorThread();
    private final Map<Long, EpochGate> gates = new ConcurrentHashMap<>();
    private final Map<Long, ReentrantLock> volumeLocks = new ConcurrentHashMap<>();
    private final List<SnapshotListener> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** The next snapshot id; only grows, so the value a cut records covers every id handed out. */
    private final java.util.concurrent.atomic.AtomicLong nextSnapshotId = new java.util.concurrent.atomic.AtomicLong(1);

    private final Object catalogLock = new Object();
    /** Guarded by catalogLock. */
    private final TreeMap<String, Group> groups = new TreeMap<>();
    private final Map<String, String> groupOfVolume = new HashMap<>();
    private final TreeMap<Long, Snapshot> snapshots = new TreeMap<>();

    private GroupBarrier(BlockStore store) {
        this.store = store;
        java.util.concurrent.ScheduledThreadPoolExecutor timer = new java.util.concurrent.ScheduledThreadPoolExecutor(1,
                NamedThreads.single("cgw-barrier-lease", true));
        // started here, so that it does not inherit the coordinator thread's real-time policy
        timer.prestartCoreThread();
        this.leaseTimer = timer;
    }

    /**
     * Loads groups and snapshots from the store's catalog and rolls back the barriers that never
     * finished (a crash between the cut and the commit): their epochs are released, their records
     * deleted.
     */
    public static GroupBarrier open(BlockStore store) {
        GroupBarrier barrier = new GroupBarrier(store);
        barrier.load();
        return barrier;
    }

    /**
     * Told of every snapshot taken (its freeze) and every barrier that failed once it started
     * waiting for its volumes: busy, timed out, or anything else (a store error). Requests refused
     * before (a bad label or timeout, an unknown volume) are not barriers and are not reported.
     * Called on the thread that ran the barrier; must be quick and must not throw.
     */
    public interface SnapshotListener {
        void taken(Snapshot snapshot);

        void failed(RuntimeException failure);
    }

    public void addListener(SnapshotListener listener) {
        listeners.add(listener);
    }

    // ---------------------------------------------------------------- gates

    /** The gate all head I/O of {@code volume} goes through; one per volume, made on first use. */
    public EpochGate gate(Volume volume) {
        return gates.computeIfAbsent(volume.id(), id -> new EpochGate(volume.name(), volume.headEpoch()));
    }

    // ---------------------------------------------------------------- groups

    public Group createGroup(String name, List<String> volumes) {
        checkGroupName(name);
        synchronized (catalogLock) {
            if (groups.containsKey(name)) {
                throw new ConflictException("group " + name + " already exists");
            }
            return storeGroup(new Group(name, checkMembers(name, volumes)));
        }
    }

    /** Replaces the volumes of a group; snapshots already taken keep theirs. */
    public Group setGroup(String name, List<String> volumes) {
        synchronized (catalogLock) {
            Group old = group(name);
            Group updated = new Group(name, checkMembers(name, volumes));
            old.volumes().forEach(groupOfVolume::remove);
            try {
                return storeGroup(updated);
            } catch (RuntimeException e) {
                old.volumes().forEach(volume -> groupOfVolume.put(volume, name));
                throw e;
            }
        }
    }

    public void deleteGroup(String name) {
        synchronized (catalogLock) {
            Group group = group(name);
            store.updateCatalog(new CatalogChanges().delete(CatalogRecords.groupKey(name)), true);
            groups.remove(name);
            group.volumes().forEach(groupOfVolume::remove);
            log.info("deleted group {}", name);
        }
    }

    public Group group(String name) {
        synchronized (catalogLock) {
            Group group = groups.get(name);
            if (group == null) {
                throw new NotFoundException("no group named " + name);
            }
            return group;
        }
    }

    public List<Group> groups() {
        synchronized (catalogLock) {
            return List.copyOf(groups.values());
        }
    }

    private Group storeGroup(Group group) {
        store.updateCatalog(CatalogRecords.putGroup(new CatalogChanges(), group), true);
        groups.put(group.name(), group);
        group.volumes().forEach(volume -> groupOfVolume.put(volume, group.name()));
        log.info("group {} has volumes {}", group.name(), group.volumes());
        return group;
    }

    /** The volumes of a group as given, checked: they exist, once each, in no other group. */
    private List<String> checkMembers(String group, List<String> volumes) {
        List<String> names = checkVolumeList(volumes);
        for (String volume : names) {
            store.volume(volume);
            String other = groupOfVolume.get(volume);
            if (other != null && !other.equals(group)) {
                throw new ConflictException("volume " + volume + " is already in group " + other
                        + "; a volume is in at most one group");
            }
        }
        return names;
    }

    private static List<String> checkVolumeList(List<String> volumes) {
        if (volumes == null || volumes.isEmpty()) {
            throw new InvalidBarrierRequestException("a group needs at least one volume");
        }
        Set<String> seen = new HashSet<>();
        for (String volume : volumes) {
            if (volume == null) {
                throw new InvalidBarrierRequestException("volume names must be strings, got null");
            }
            if (!seen.add(volume)) {
                throw new InvalidBarrierRequestException("volume " + volume + " is listed twice");
            }
        }
        return List.copyOf(volumes);
    }

    /** The rule of {@link Names}, refused with the barrier's own exception like its other bad requests. */
    private static void checkGroupName(String name) {
        if (!Names.isValid(name)) {
            throw new InvalidBarrierRequestException(Names.refusal("group", name));
        }
    }

    // ---------------------------------------------------------------- snapshots

    /** Snapshots every volume of a group at one crash-consistent point. */
    public Snapshot snapshotGroup(String name, String label, Duration timeout) {
        return snapshotGroup(name, label, timeout, NO_RECORDS);
    }

    /**
     * {@link #snapshotGroup(String, String, Duration)}, adding the records {@code atCommit} puts
     * into the write that publishes the snapshot: a layer above (replication) records what the
     * snapshot means with no moment where one exists without the other.
     */
    public Snapshot snapshotGroup(String name, String label, Duration timeout,
            BiConsumer<Snapshot, CatalogChanges> atCommit) {
        List<String> volumes = group(name).volumes();
        return snapshot(name, volumes, label, timeout, atCommit);
    }

    /** Snapshots an ad-hoc set of volumes with the same barrier as a group. */
    public Snapshot snapshotVolumes(List<String> volumes, String label, Duration timeout) {
        return snapshot(null, checkVolumeList(volumes), label, timeout, NO_RECORDS);
    }

    public Snapshot snapshot(long id) {
        synchronized (catalogLock) {
            Snapshot snapshot = snapshots.get(id);
            if (snapshot == null) {
                throw new NotFoundException("no snapshot " + id);
            }
            return snapshot;
        }
    }

    /** Published snapshots, oldest first; only a group's when {@code group} is not null. */
    public List<Snapshot> snapshots(String group) {
        synchronized (catalogLock) {
            return snapshots.values().stream().filter(s -> group == null || group.equals(s.group())).toList();
        }
    }

    /**
     * Deletes a snapshot: its record and its epochs go in one atomic write; the space is reclaimed
     * by the store's collector. Epochs that clones fall through to stay readable for them.
     */
    public void deleteSnapshot(long id) {
        deleteSnapshot(id, new CatalogChanges());
    }

    /** {@link #deleteSnapshot(long)}, applying {@code alongside} in the same atomic write. */
    public void deleteSnapshot(long id, CatalogChanges alongside) {
        synchronized (catalogLock) {
            Snapshot snapshot = snapshot(id);
            store.release(epochs(snapshot.members()), alongside.delete(CatalogRecords.snapshotKey(id)));
            snapshots.remove(id);
            log.info("deleted snapshot {}", id);
        }
    }

    /**
     * Makes a writable clone of every volume of a snapshot, named {@code prefix + volume}, and
     * returns old name to new name. All or nothing: when one clone cannot be made, those made are
     * deleted again.
     */
    public Map<String, String> cloneSnapshot(long id, String prefix) {
        if (prefix == null) {
            throw new InvalidBarrierRequestException("field 'prefix' is required");
        }
        Snapshot snapshot = snapshot(id);
        for (Snapshot.Member member : snapshot.members()) {
            String name = prefix + member.volume();
            if (store.volumes().stream().anyMatch(v -> v.name().equals(name))) {
                throw new VolumeExistsException("volume " + name + " already exists");
            }
        }
        Map<String, String> names = new LinkedHashMap<>();
        List<Volume> made = new ArrayList<>();
        try {
            for (Snapshot.Member member : snapshot.members()) {
                Volume clone = store.clone(volumeOf(member), member.epoch(), prefix + member.volume());
                made.add(clone);
                names.put(member.volume(), clone.name());
            }
        } catch (RuntimeException e) {
            for (Volume clone : made) {
                try {
                    store.delete(clone);
                } catch (RuntimeException undo) {
                    e.addSuppressed(undo);
                }
            }
            throw e;
        }
        log.info("cloned snapshot {} as {}", id, names.values());
        return names;
    }

    /**
     * The epoch of {@code volume} in the snapshot named {@code snapshotId} (its decimal id, as in
     * the export name {@code VOLUME@ID}); empty when there is no such snapshot or the volume is
     * not in it.
     */
    public java.util.OptionalLong epochOf(Volume volume, String snapshotId) {
        java.util.OptionalLong id = parseId(snapshotId);
        if (id.isEmpty()) {
            return java.util.OptionalLong.empty();
        }
        long epoch = epochOf(volume, id.getAsLong());
        return epoch < 0 ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(epoch);
    }

    /** The group {@code volume} is in, or null. */
    public String groupOf(String volume) {
        synchronized (catalogLock) {
            return groupOfVolume.get(volume);
        }
    }

    /** Whether snapshot {@code snapshotId} (its decimal id) exists. */
    public boolean snapshotExists(String snapshotId) {
        java.util.OptionalLong id = parseId(snapshotId);
        if (id.isEmpty()) {
            return false;
        }
        synchronized (catalogLock) {
            return snapshots.containsKey(id.getAsLong());
        }
    }

    /** A snapshot id as export names and meta contexts write it (decimal, positive), or empty. */
    private static java.util.OptionalLong parseId(String snapshotId) {
        return snapshotId.matches("[1-9][0-9]{0,17}")
                ? java.util.OptionalLong.of(Long.parseLong(snapshotId))
                : java.util.OptionalLong.empty();
    }

    /** The epoch of {@code volume} in snapshot {@code id}, for its read-only NBD export; -1 when none. */
    public long epochOf(Volume volume, long id) {
        synchronized (catalogLock) {
            Snapshot snapshot = snapshots.get(id);
            if (snapshot == null) {
                return -1;
            }
            return snapshot.member(volume.id()).map(Snapshot.Member::epoch).orElse(-1L);
        }
    }

    /**
     * Deletes a volume unless a group or a snapshot still refers to it (409); {@code beforeDelete}
     * runs first under the volume's barrier lock (e.g. a check that it is not attached). Never
     * runs during a barrier on the volume.
     */
    public void deleteVolume(Volume volume, Runnable beforeDelete) {
        ReentrantLock lock = volumeLock(volume);
        lock.lock();
        try {
            synchronized (catalogLock) {
                String group = groupOfVolume.get(volume.name());
                if (group != null) {
                    throw new ConflictException("volume " + volume.name() + " is in group " + group
                            + "; remove it from the group first");
                }
                List<Long> referring = snapshots.values().stream()
                        .filter(s -> s.member(volume.id()).isPresent()).map(Snapshot::id).toList();
                if (!referring.isEmpty()) {
                    throw new ConflictException("volume " + volume.name() + " is in snapshots " + referring
                            + "; delete them first");
                }
            }
            beforeDelete.run();
            store.delete(volume);
            gates.remove(volume.id());
        } finally {
            lock.unlock();
        }
    }

    private Snapshot snapshot(String group, List<String> names, String label, Duration timeout,
            BiConsumer<Snapshot, CatalogChanges> atCommit) {
        if (label != null && label.length() > MAX_LABEL_LENGTH) {
            throw new InvalidBarrierRequestException("label is longer than " + MAX_LABEL_LENGTH + " characters");
        }
        if (timeout.isNegative() || timeout.isZero() || timeout.compareTo(MAX_TIMEOUT) > 0) {
            throw new InvalidBarrierRequestException("timeoutMs must be between 1 and " + MAX_TIMEOUT.toMillis());
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Volume> volumes = new ArrayList<>();
        for (String name : names) {
            volumes.add(store.volume(name));
        }
        volumes.sort(Comparator.comparingLong(Volume::id));
        List<ReentrantLock> locked = List.of();
        Snapshot snapshot;
        try {
            locked = lockVolumes(volumes, deadline);
            snapshot = runBarrier(group, volumes, label, timeout, deadline, atCommit);
        } catch (RuntimeException e) {
            listeners.forEach(l -> l.failed(e));
            throw e;
        } finally {
            for (int i = locked.size() - 1; i >= 0; i--) {
                locked.get(i).unlock();
            }
        }
        listeners.forEach(l -> l.taken(snapshot));
        return snapshot;
    }

    private Snapshot runBarrier(String group, List<Volume> volumes, String label, Duration timeout, long deadline,
            BiConsumer<Snapshot, CatalogChanges> atCommit) {
        List<EpochGate> volumeGates = volumes.stream().map(this::gate).toList();
        long id = nextSnapshotId.getAndIncrement();
        long createdAt = System.currentTimeMillis();
        // 1. cut: the store seals E of every volume with the pending record, durably
        long[] sealed = store.cut(volumes, epochs -> {
            Snapshot pending = new Snapshot(id, group, label, createdAt, members(volumes, epochs), 0);
            return CatalogRecords.putNextSnapshotId(
                    CatalogRecords.putSnapshot(new CatalogChanges(), pending, StoredSnapshot.PENDING),
                    nextSnapshotId.get());
        });
        List<Snapshot.Member> members = members(volumes, sealed);
        try {
            store.flush();
            for (int i = 0; i < volumes.size(); i++) {
                long tagging = volumeGates.get(i).epoch();
                if (tagging != sealed[i]) {
                    throw new IllegalStateException(volumes.get(i) + " was cut outside the barrier: its gate tags "
                            + tagging + ", the store sealed " + sealed[i]);
                }
            }
            // 2 and 3. switch every gate with all of them locked, then release the holds
            long freezeMicros = switchAndRelease(volumeGates, sealed, Math.max(1, deadline - System.nanoTime()));
            // 4. seal: the writes admitted in E before the switch are applied
            awaitDrained(volumes, volumeGates, sealed, deadline, timeout);
            Snapshot snapshot = new Snapshot(id, group, label, createdAt, members, freezeMicros);
            CatalogChanges publish = CatalogRecords.putSnapshot(new CatalogChanges(), snapshot,
                    StoredSnapshot.COMMITTED);
            atCommit.accept(snapshot, publish);
            store.updateCatalog(publish, true);
            synchronized (catalogLock) {
                snapshots.put(id, snapshot);
            }
            log.info("snapshot {} of {}: {} volumes, freeze {} us", id, group == null ? "volumes" : "group " + group,
                    volumes.size(), freezeMicros);
            return snapshot;
        } catch (RuntimeException e) {
            rollBack(id, members, e);
            throw e;
        }
    }

    /** What the coordinator thread's step leaves to the caller: the freeze, and the replies to send. */
    private record Released(long freezeMicros, boolean expired, List<List<Runnable>> replies) {
    }

    /**
     * Steps 2 and 3 on the coordinator thread (the freeze: nothing else in it); the held replies
     * are sent afterwards from the calling thread.
     */
    private long switchAndRelease(List<EpochGate> volumeGates, long[] sealed, long leaseNanos) {
        Released released = coordinator.call(() -> switchAndDetach(volumeGates, sealed, leaseNanos));
        released.replies().forEach(held -> held.forEach(Runnable::run));
        if (released.expired()) {
            throw new BarrierTimeoutException("the lease of a hold expired before the barrier committed");
        }
        return released.freezeMicros();
    }

    private Released switchAndDetach(List<EpochGate> volumeGates, long[] sealed, long leaseNanos) {
        List<EpochGate.Hold> holds = new ArrayList<>(volumeGates.size());
        int locked = 0;
        try {
            for (EpochGate gate : volumeGates) {
                gate.lock();
                locked++;
            }
            for (int i = 0; i < volumeGates.size(); i++) {
                holds.add(volumeGates.get(i).switchAndHold(sealed[i] + 1, leaseNanos, leaseTimer));
            }
        } finally {
            for (int i = locked - 1; i >= 0; i--) {
                volumeGates.get(i).unlock();
            }
        }
        long freezeMicros = 0;
        boolean expired = false;
        List<List<Runnable>> replies = new ArrayList<>(holds.size());
        for (EpochGate.Hold hold : holds) {
            List<Runnable> held = hold.gate.detach(hold);
            expired |= held == null;
            replies.add(held == null ? List.of() : held);
            freezeMicros = Math.max(freezeMicros, hold.heldMicros);
        }
        return new Released(freezeMicros, expired, replies);
    }

    private void awaitDrained(List<Volume> volumes, List<EpochGate> volumeGates, long[] sealed, long deadline,
            Duration timeout) {
        List<CompletableFuture<Void>> drained = new ArrayList<>();
        for (int i = 0; i < volumes.size(); i++) {
            drained.add(volumeGates.get(i).drained(sealed[i]));
        }
        try {
            CompletableFuture.allOf(drained.toArray(CompletableFuture[]::new))
                    .get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            List<String> slow = new ArrayList<>();
            for (int i = 0; i < volumes.size(); i++) {
                if (!drained.get(i).isDone()) {
                    slow.add(volumes.get(i).name());
                }
            }
            throw new BarrierTimeoutException("writes admitted before the barrier did not finish within "
                    + timeout.toMillis() + " ms on " + String.join(", ", slow) + "; nothing was published", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BarrierTimeoutException("interrupted while waiting for writes before the barrier", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("waiting for writes before the barrier failed", e.getCause());
        }
    }

    /** Undoes a barrier that did not finish: its epochs released and its pending record deleted, in one write. */
    private void rollBack(long id, List<Snapshot.Member> members, RuntimeException cause) {
        try {
            store.release(epochs(members), new CatalogChanges().delete(CatalogRecords.snapshotKey(id)));
            log.warn("barrier {} rolled back: {}", id, cause.getMessage());
        } catch (StoreException e) {
            cause.addSuppressed(e);
            log.error("rolling back barrier {} failed; it is rolled back at the next start", id, e);
        }
    }

    private List<ReentrantLock> lockVolumes(List<Volume> volumes, long deadline) {
        List<ReentrantLock> locked = new ArrayList<>();
        try {
            for (Volume volume : volumes) {
                ReentrantLock lock = volumeLock(volume);
                if (!lock.tryLock(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    throw new BarrierBusyException("another barrier held " + volume.name()
                            + " for the whole timeout; nothing was cut");
                }
                locked.add(lock);
            }
            return locked;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            for (ReentrantLock lock : locked) {
                lock.unlock();
            }
            throw new BarrierBusyException("interrupted while waiting for other barriers");
        } catch (RuntimeException e) {
            for (ReentrantLock lock : locked) {
                lock.unlock();
            }
            throw e;
        }
    }

    private ReentrantLock volumeLock(Volume volume) {
        return volumeLocks.computeIfAbsent(volume.id(), id -> new ReentrantLock());
    }

    private static List<Snapshot.Member> members(List<Volume> volumes, long[] epochs) {
        List<Snapshot.Member> members = new ArrayList<>(volumes.size());
        for (int i = 0; i < volumes.size(); i++) {
            members.add(new Snapshot.Member(volumes.get(i).name(), volumes.get(i).id(), epochs[i]));
        }
        return members;
    }

    private List<VolumeEpoch> epochs(List<Snapshot.Member> members) {
        return members.stream().map(m -> new VolumeEpoch(volumeOf(m), m.epoch())).toList();
    }

    private Volume volumeOf(Snapshot.Member member) {
        Volume volume = store.volume(member.volume());
        if (volume.id() != member.volumeId()) {
            throw new VolumeNotFoundException("volume " + member.volume() + " of the snapshot was deleted");
        }
        return volume;
    }

    // ---------------------------------------------------------------- start-up

    private void load() {
        synchronized (catalogLock) {
            byte[] next = store.catalogEntries(CatalogRecords.NEXT_SNAPSHOT_ID).get(CatalogRecords.NEXT_SNAPSHOT_ID);
            nextSnapshotId.set(next == null ? 1 : CatalogRecords.decodeNextSnapshotId(next));
            store.catalogEntries(CatalogRecords.GROUPS).forEach((key, value) -> {
                Group group = CatalogRecords.decode(key, value, Group.class);
                groups.put(group.name(), group);
                group.volumes().forEach(volume -> groupOfVolume.put(volume, group.name()));
            });
            int rolledBack = 0;
            for (Map.Entry<String, byte[]> entry : store.catalogEntries(CatalogRecords.SNAPSHOTS).entrySet()) {
                StoredSnapshot stored = CatalogRecords.decode(entry.getKey(), entry.getValue(), StoredSnapshot.class);
                nextSnapshotId.accumulateAndGet(stored.id() + 1, Math::max);
                if (stored.committed()) {
                    snapshots.put(stored.id(), stored.snapshot());
                } else {
                    rollBackAtStart(stored);
                    rolledBack++;
                }
            }
            log.info("catalog: {} groups, {} snapshots, {} unfinished barriers rolled back",
                    groups.size(), snapshots.size(), rolledBack);
        }
    }

    /** A pending record from before a crash: release whichever of its epochs the store still retains. */
    private void rollBackAtStart(StoredSnapshot stored) {
        List<VolumeEpoch> retained = new ArrayList<>();
        for (Snapshot.Member member : stored.members()) {
            try {
                Volume volume = volumeOf(member);
                if (store.retainedEpochs(volume).contains(member.epoch())) {
                    retained.add(new VolumeEpoch(volume, member.epoch()));
                }
            } catch (VolumeNotFoundException e) {
                log.debug("volume of unfinished barrier {} is gone: {}", stored.id(), e.getMessage());
            }
        }
        store.release(retained, new CatalogChanges().delete(CatalogRecords.snapshotKey(stored.id())));
        log.warn("rolled back barrier {} that was running when the gateway stopped", stored.id());
    }

    @Override
    public void close() {
        coordinator.close();
        leaseTimer.shutdownNow();
    }
}

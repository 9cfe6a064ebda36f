package cgw.store;

import cgw.store.key.CatalogKey;
import cgw.store.key.RegionKey;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The volumes of a store and their epochs: creation, growth, cuts, releases, clones, deletion,
 * and the collector's pending work that releases leave. Each change goes to RocksDB in one
 * batch, then into memory, under the catalog lock; changes callers must be able to rely on are
 * synced ({@link WalSync}) after the lock is dropped, so a cut is never held up by a sync.
 *
 * <p>Threads: any. {@link #lock} guards the maps, each volume's {@code retained}, {@code pins}
 * and {@code clones}, {@link #nextVolumeId} and {@link #gcTasks}; lookups by name or id take no
 * lock. It never takes the collector's lock (which comes before it; see {@link StripeLocks}).
 */
final class Catalog {
    private static final Logger log = LoggerFactory.getLogger(Catalog.class);

    private final Rocks rocks;
    private final WalSync walSync;
    /** What is left of {@link BlockStore#HEAD_DIRTY_PAGES}, shared by every volume's {@link HeadDirtyBlocks}. */
    private final AtomicInteger headRegionPages;

    final Object lock = new Object();
    private final Map<String, Volume> byName = new ConcurrentHashMap<>();
    private final Map<Long, Volume> byId = new ConcurrentHashMap<>();
    private long nextVolumeId;
    /** Collections to run, mirrored by the catalog's 'G' keys. */
    private final List<GcTask> gcTasks = new ArrayList<>();

    /** Loads the catalog of an open store. */
    Catalog(Rocks rocks, WalSync walSync, AtomicInteger headRegionPages) {
        this.rocks = rocks;
        this.walSync = walSync;
        this.headRegionPages = headRegionPages;
        load();
    }

    /**
     * The block size of the store: the one it was created with, or {@code requested} for a new
     * store, whose metadata this writes and syncs.
     */
    static int loadBlockSize(Rocks rocks, int requested) {
        try {
            byte[] format = rocks.db.get(rocks.catalog, CatalogKey.meta("format"));
            byte[] stored = rocks.db.get(rocks.catalog, CatalogKey.meta("block-size"));
            if (format == null) {
                try (WriteBatch batch = new WriteBatch()) {
                    batch.put(rocks.catalog, CatalogKey.meta("format"), longBytes(FormatUpgrade.FORMAT));
                    batch.put(rocks.catalog, CatalogKey.meta("block-size"), longBytes(requested));
                    batch.put(rocks.catalog, CatalogKey.meta("next-volume-id"), longBytes(1));
                    rocks.commit(batch);
                }
                rocks.db.flushWal(true);
                return requested;
            }
            if (ByteBuffer.wrap(format).getLong() != FormatUpgrade.FORMAT) {
                throw new StoreException("store at " + rocks.dir() + " has format " + ByteBuffer.wrap(format).getLong()
                        + "; this build reads format " + FormatUpgrade.FORMAT);
            }
            int size = (int) ByteBuffer.wrap(stored).getLong();
            if (size != requested) {
                log.warn("store at {} was created with {}-byte blocks; using them instead of {}", rocks.dir(), size,
                        requested);
            }
            return size;
        } catch (RocksDBException e) {
            throw rocks.failure("reading store metadata", e);
        }
    }

    // ---------------------------------------------------------------- lookups

    /** The volume of that name; throws {@link VolumeNotFoundException} when there is none. */
    Volume volume(String name) {
        Volume volume = byName.get(name);
        if (volume == null) {
            throw new VolumeNotFoundException("no volume named " + name);
        }
        return volume;
    }

    /** The volume with that id, or null when there is none (any more). */
    @Nullable
    Volume byId(long id) {
        return byId.get(id);
    }

    int size() {
        return byId.size();
    }

    VolumeInfo info(Volume volume) {
        synchronized (lock) {
            volume.checkAlive();
            return volume.info();
        }
    }

    /** All volumes, ordered by name. */
    List<VolumeInfo> volumes() {
        synchronized (lock) {
            return byName.values().stream()
                    .sorted(Comparator.comparing(Volume::name))
                    .map(Volume::info)
                    .toList();
        }
    }

    /** Holds a retained epoch for a reader: {@link #release} refuses it until {@link #unhold}. */
    void hold(Volume volume, long epoch) {
        synchronized (lock) {
            volume.checkAlive();
            requireRetained(volume, epoch);
            volume.readers.merge(epoch, 1, Integer::sum);
        }
    }

    void unhold(Volume volume, long epoch) {
        synchronized (lock) {
            volume.readers.computeIfPresent(epoch, (e, n) -> n == 1 ? null : n - 1);
        }
    }

    /** Retained epochs of a volume, oldest first. */
    List<Long> retainedEpochs(Volume volume) {
        synchronized (lock) {
            volume.checkAlive();
            return List.copyOf(volume.retained.keySet());
        }
    }

    /** The size of a volume at an epoch it can be read at: the head, or a retained epoch. */
    long readableSize(Volume volume, long epoch) {
        volume.checkAlive();
        if (epoch == BlockStore.HEAD || epoch == volume.headEpoch) {
            return volume.sizeBytes;
        }
        synchronized (lock) {
            Long size = volume.retained.get(epoch);
            if (size == null) {
                if (epoch == volume.headEpoch) {
                    return volume.sizeBytes;
                }
                throw new EpochNotRetainedException("epoch " + epoch + " of " + volume.name + " is not readable"
                        + " (head is " + volume.headEpoch + ", retained " + volume.retained.keySet() + ")");
            }
            return size;
        }
    }

    /** Checks that both epochs of a changed-block query are retained ({@code fromEpoch} 0: the volume's start). */
    void requireRetained(Volume volume, long fromEpoch, long toEpoch) {
        synchronized (lock) {
            volume.checkAlive();
            if (fromEpoch != 0) {
                requireRetained(volume, fromEpoch);
            }
            requireRetained(volume, toEpoch);
        }
    }

    // ---------------------------------------------------------------- volumes

    Volume create(String name, long sizeBytes) {
        Volume created;
        synchronized (lock) {
            if (byName.containsKey(name)) {
                throw new VolumeExistsException("volume " + name + " already exists");
            }
            long id = nextVolumeId;
            VolumeRecord record = new VolumeRecord(id, name, sizeBytes, 1, System.currentTimeMillis(), 0, 0, 0);
            persistNew(record, "creating " + name);
            created = new Volume(record, null, headRegionPages, true);
            register(created);
            log.info("created volume {} ({} bytes)", name, sizeBytes);
        }
        walSync.sync();
        return created;
    }

    /**
     * Creates a writable volume {@code name} whose blocks fall through to {@code source} at the
     * retained {@code epoch} until written. Its size is the source's size at that epoch.
     */
    Volume clone(Volume source, long epoch, String name) {
        Volume created;
        synchronized (lock) {
            source.checkAlive();
            if (byName.containsKey(name)) {
                throw new VolumeExistsException("volume " + name + " already exists");
            }
            long sizeAtEpoch = requireRetained(source, epoch);
            if (source.depth + 1 > BlockStore.MAX_CLONE_DEPTH) {
                throw new InvalidRequestException("clone chain of " + source.name + " is already "
                        + source.depth + " deep; the limit is " + BlockStore.MAX_CLONE_DEPTH);
            }
            long id = nextVolumeId;
            VolumeRecord record = new VolumeRecord(id, name, sizeAtEpoch, 1, System.currentTimeMillis(),
                    source.id, epoch, sizeAtEpoch);
            persistNew(record, "cloning " + source.name + "@" + epoch);
            created = new Volume(record, source, headRegionPages, true);
            register(created);
            log.info("cloned {}@{} as {}", source.name, epoch, name);
        }
        walSync.sync();
        return created;
    }

    /** Writes a new volume's record and the next id. Under the lock. */
    private void persistNew(VolumeRecord record, String what) {
        try (WriteBatch batch = new WriteBatch()) {
            batch.put(rocks.catalog, CatalogKey.volume(record.id()), record.encode());
            batch.put(rocks.catalog, CatalogKey.meta("next-volume-id"), longBytes(record.id() + 1));
            rocks.commit(batch);
        } catch (RocksDBException e) {
            throw rocks.failure(what, e);
        }
        nextVolumeId = record.id() + 1;
    }

    /** Grows a volume; shrinking is refused, since it would silently drop data. */
    VolumeInfo grow(Volume volume, long newSizeBytes) {
        VolumeInfo grown;
        synchronized (lock) {
            volume.checkAlive();
            if (newSizeBytes < volume.sizeBytes) {
                throw new InvalidRequestException("cannot shrink " + volume.name + " from " + volume.sizeBytes
                        + " to " + newSizeBytes + " bytes");
            }
            VolumeRecord record = volume.record().withSizeBytes(newSizeBytes);
            try {
                rocks.db.put(rocks.catalog, rocks.writeOptions, CatalogKey.volume(record.id()), record.encode());
            } catch (RocksDBException e) {
                throw rocks.failure("updating " + record.name(), e);
            }
            volume.sizeBytes = newSizeBytes;
            grown = volume.info();
        }
        walSync.sync();
        return grown;
    }

    /**
     * Deletes a volume and all its epochs. Refused while clones depend on it: delete or restore
     * the clones first (as Ceph RBD refuses to remove a snapshot with children). Space is
     * reclaimed by RocksDB compaction of the range tombstones.
     */
    void delete(Volume volume) {
        synchronized (lock) {
            volume.checkAlive();
            if (!volume.clones.isEmpty()) {
                throw new VolumeInUseException("volume " + volume.name + " has clones ("
                        + String.join(", ", volume.clones.stream().map(Volume::name).toList())
                        + "); delete them first");
            }
            volume.headLock.writeLock().lock();
            try (WriteBatch batch = new WriteBatch()) {
                long id = volume.id;
                batch.delete(rocks.catalog, CatalogKey.volume(id));
                batch.deleteRange(rocks.catalog, CatalogKey.epochsStart(CatalogKey.RETAINED, id),
                        CatalogKey.epochsEnd(CatalogKey.RETAINED, id));
                batch.deleteRange(rocks.catalog, CatalogKey.epochsStart(CatalogKey.PENDING_GC, id),
                        CatalogKey.epochsEnd(CatalogKey.PENDING_GC, id));
                GcTask unpinned = volume.parent == null ? null : unpinTask(volume.parent, volume.parentEpoch);
                if (unpinned != null) {
                    batch.put(rocks.catalog, unpinned.key(), new byte[0]);
                }
                batch.deleteRange(rocks.blocks, RegionKey.volumeStart(id), RegionKey.volumeEnd(id));
                batch.deleteRange(rocks.dirty, RegionKey.volumeStart(id), RegionKey.volumeEnd(id));
                rocks.commit(batch);
                volume.deleted = true;
                volume.headRegions.discard();
                gcTasks.removeIf(task -> task.volumeId() == volume.id);
                if (unpinned != null) {
                    gcTasks.add(unpinned);
                }
            } catch (RocksDBException e) {
                throw rocks.failure("deleting " + volume.name, e);
            } finally {
                volume.headLock.writeLock().unlock();
            }
            byName.remove(volume.name);
            byId.remove(volume.id);
            if (volume.parent != null) {
                volume.parent.clones.remove(volume);
                volume.parent.pins.computeIfPresent(volume.parentEpoch, (e, count) -> count == 1 ? null : count - 1);
            }
            log.info("deleted volume {}", volume.name);
        }
        walSync.sync();
    }

    // ---------------------------------------------------------------- epochs

    /**
     * Seals the head epoch of every volume in one catalog write, with the records
     * {@code alongside} returns for the sealed epochs; see {@link BlockStore#cut(List, Function)}.
     */
    long[] cut(List<Volume> volumes, Function<long[], CatalogChanges> alongside) {
        if (new HashSet<>(volumes).size() != volumes.size()) {
            throw new InvalidRequestException("a volume appears twice in one cut: " + volumes);
        }
        synchronized (lock) {
            List<Volume> locked = new ArrayList<>(volumes.size());
            try {
                for (Volume volume : volumes) {
                    volume.checkAlive();
                    volume.headLock.writeLock().lock();
                    locked.add(volume);
                }
                long[] sealed = new long[volumes.size()];
                List<GcTask> tasks = new ArrayList<>();
                try (WriteBatch batch = new WriteBatch()) {
                    for (int i = 0; i < volumes.size(); i++) {
                        Volume volume = volumes.get(i);
                        sealed[i] = volume.headEpoch;
                        GcTask task = cutTask(volume, sealed[i]);
                        if (task != null) {
                            batch.put(rocks.catalog, task.key(), new byte[0]);
                            tasks.add(task);
                        }
                        batch.put(rocks.catalog, CatalogKey.volume(volume.id),
                                volume.record().withHeadEpoch(sealed[i] + 1).encode());
                        batch.put(rocks.catalog, CatalogKey.epoch(CatalogKey.RETAINED, volume.id, sealed[i]),
                                longBytes(volume.sizeBytes));
                    }
                    addChanges(batch, alongside.apply(sealed.clone()));
                    rocks.commit(batch);
                } catch (RocksDBException e) {
                    throw rocks.failure("cutting " + volumes, e);
                }
                for (int i = 0; i < volumes.size(); i++) {
                    Volume volume = volumes.get(i);
                    volume.retained.put(sealed[i], volume.sizeBytes);
                    volume.headEpoch = sealed[i] + 1;
                    volume.headRegions.discard();
                    volume.headRegions = new HeadRegions(volume.headEpoch, headRegionPages, true);
                }
                gcTasks.addAll(tasks);
                return sealed;
            } finally {
                for (Volume volume : locked) {
                    volume.headLock.writeLock().unlock();
                }
            }
        }
    }

    /** Releases retained epochs with {@code alongside}, atomically, then syncs; see {@link BlockStore#release(List, CatalogChanges)}. */
    void release(List<VolumeEpoch> epochs, CatalogChanges alongside) {
        synchronized (lock) {
            List<GcTask> tasks = new ArrayList<>();
            try (WriteBatch batch = new WriteBatch()) {
                for (VolumeEpoch ref : epochs) {
                    ref.volume().checkAlive();
                    requireRetained(ref.volume(), ref.epoch());
                    Integer readers = ref.volume().readers.get(ref.epoch());
                    if (readers != null) {
                        throw new VolumeInUseException("epoch " + ref.epoch() + " of " + ref.volume().name
                                + " is held by " + readers + " reader(s) (open NBD connections to it); it can be"
                                + " released once they are closed");
                    }
                }
                if (new HashSet<>(epochs).size() != epochs.size()) {
                    throw new InvalidRequestException("an epoch appears twice in one release: " + epochs);
                }
                for (VolumeEpoch ref : epochs) {
                    Volume volume = ref.volume();
                    batch.delete(rocks.catalog, CatalogKey.epoch(CatalogKey.RETAINED, volume.id, ref.epoch()));
                    if (!volume.pins.containsKey(ref.epoch())) {
                        GcTask task = releaseTask(volume, ref.epoch());
                        batch.put(rocks.catalog, task.key(), new byte[0]);
                        tasks.add(task);
                    }
                }
                addChanges(batch, alongside);
                rocks.commit(batch);
            } catch (RocksDBException e) {
                throw rocks.failure("releasing " + epochs, e);
            }
            for (VolumeEpoch ref : epochs) {
                ref.volume().retained.remove(ref.epoch());
            }
            gcTasks.addAll(tasks);
        }
        walSync.sync();
    }

    // ---------------------------------------------------------------- records of layers above

    /** Applies records of a layer above the store on their own, synced when {@code sync}. */
    void update(CatalogChanges changes, boolean sync) {
        try (WriteBatch batch = new WriteBatch()) {
            addChanges(batch, changes);
            rocks.commit(batch);
        } catch (RocksDBException e) {
            throw rocks.failure("updating the catalog", e);
        }
        if (sync) {
            walSync.sync();
        }
    }

    /** The records of layers above the store whose names start with {@code prefix}, sorted by name. */
    SortedMap<String, byte[]> entries(String prefix) {
        try (RocksIterator it = rocks.db.newIterator(rocks.catalog, rocks.scanOptions)) {
            SortedMap<String, byte[]> entries = new TreeMap<>();
            byte[] start = CatalogKey.app(prefix);
            for (it.seek(start); it.isValid(); it.next()) {
                byte[] key = it.key();
                if (!startsWith(key, start)) {
                    break;
                }
                entries.put(CatalogKey.appName(key), it.value());
            }
            Rocks.checkStatus(it);
            return entries;
        }
    }

    private static boolean startsWith(byte[] key, byte[] prefix) {
        return key.length >= prefix.length && Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
    }

    private void addChanges(WriteBatch batch, @Nullable CatalogChanges changes) throws RocksDBException {
        if (changes == null) {
            return;
        }
        for (CatalogChanges.Change change : changes.changes()) {
            if (change.value() == null) {
                batch.delete(rocks.catalog, change.key());
            } else {
                batch.put(rocks.catalog, change.key(), change.value());
            }
        }
    }

    // ---------------------------------------------------------------- the collector's work

    /** Collections waiting for the collector (after releases, clone deletions and some cuts). */
    int pendingTasks() {
        synchronized (lock) {
            return gcTasks.size();
        }
    }

    /** The collections waiting now, in the order they were scheduled. */
    List<GcTask> tasks() {
        synchronized (lock) {
            return new ArrayList<>(gcTasks);
        }
    }

    /**
     * Removes a finished collection from the catalog, running {@code counted} under the lock as it
     * leaves: once {@link #pendingTasks} shows it gone, what {@code counted} records is there.
     */
    void finish(GcTask task, Runnable counted) {
        synchronized (lock) {
            try {
                rocks.db.delete(rocks.catalog, rocks.writeOptions, task.key());
            } catch (RocksDBException e) {
                throw rocks.failure("finishing collection " + task, e);
            }
            gcTasks.remove(task);
            counted.run();
        }
    }

    /** Retained and pinned epochs and the head, sorted; null when the volume was deleted. */
    long @Nullable [] keptEpochs(Volume volume) {
        synchronized (lock) {
            if (volume.deleted) {
                return null;
            }
            long[] kept = new long[volume.retained.size() + volume.pins.size() + 1];
            int i = 0;
            for (long epoch : volume.retained.keySet()) {
                kept[i++] = epoch;
            }
            for (long epoch : volume.pins.keySet()) {
                kept[i++] = epoch;
            }
            kept[i] = volume.headEpoch;
            Arrays.sort(kept);
            return kept;
        }
    }

    /** The collection a parent epoch needs when it loses its last clone and is not retained, or null. */
    private static @Nullable GcTask unpinTask(Volume parent, long epoch) {
        if (parent.pins.getOrDefault(epoch, 0) == 1 && !parent.retained.containsKey(epoch)) {
            return releaseTask(parent, epoch);
        }
        return null;
    }

    /**
     * Releasing {@code epoch}: the blocks written in (epoch, next kept epoch or head]. A version
     * visible at the epoch becomes garbage exactly when its next newer version lies in that span.
     */
    private static GcTask releaseTask(Volume volume, long epoch) {
        long next = Math.min(orElse(volume.retained.higherKey(epoch), Long.MAX_VALUE),
                orElse(volume.pins.higherKey(epoch), Long.MAX_VALUE));
        return new GcTask(volume.id, epoch + 1, next);
    }

    /**
     * Sealing {@code sealed} closes the span (K, sealed] above the newest kept epoch K. When that
     * span held released epochs, writes in it may have left older versions behind: they sit in
     * blocks written in [K + 2, sealed]. Null when there is nothing to do.
     */
    private static @Nullable GcTask cutTask(Volume volume, long sealed) {
        long newestKept = Math.max(orElse(volume.retained.lowerKey(sealed), 0),
                orElse(volume.pins.lowerKey(sealed), 0));
        return sealed - newestKept >= 2 ? new GcTask(volume.id, newestKept + 2, sealed) : null;
    }

    private static long orElse(@Nullable Long epoch, long none) {
        return epoch == null ? none : epoch;
    }

    /** The volume's size at a retained epoch; throws when the epoch is not retained. Under the lock. */
    private static long requireRetained(Volume volume, long epoch) {
        Long size = volume.retained.get(epoch);
        if (size == null) {
            throw new EpochNotRetainedException("epoch " + epoch + " of " + volume.name + " is not retained");
        }
        return size;
    }

    // ---------------------------------------------------------------- loading

    private void load() {
        synchronized (lock) {
            try {
                nextVolumeId = ByteBuffer.wrap(rocks.db.get(rocks.catalog, CatalogKey.meta("next-volume-id")))
                        .getLong();
                List<VolumeRecord> records = new ArrayList<>();
                try (RocksIterator it = rocks.db.newIterator(rocks.catalog, rocks.scanOptions)) {
                    for (it.seek(CatalogKey.kindStart(CatalogKey.VOLUME)); it.isValid(); it.next()) {
                        if (CatalogKey.kind(it.key()) != CatalogKey.VOLUME) {
                            break;
                        }
                        records.add(VolumeRecord.decode(it.value()));
                    }
                    Rocks.checkStatus(it);
                }
                // clones always have larger ids than their parents
                records.sort(Comparator.comparingLong(VolumeRecord::id));
                for (VolumeRecord record : records) {
                    Volume parent = null;
                    if (record.parentId() != 0) {
                        parent = byId.get(record.parentId());
                        if (parent == null) {
                            throw new StoreException("catalog is inconsistent: " + record.name()
                                    + " has a missing parent volume id " + record.parentId());
                        }
                    }
                    register(new Volume(record, parent, headRegionPages, false));
                }
                try (RocksIterator it = rocks.db.newIterator(rocks.catalog, rocks.scanOptions)) {
                    for (it.seek(CatalogKey.kindStart(CatalogKey.PENDING_GC)); it.isValid(); it.next()) {
                        byte[] key = it.key();
                        if (CatalogKey.kind(key) != CatalogKey.PENDING_GC) {
                            break;
                        }
                        gcTasks.add(GcTask.ofKey(key));
                    }
                    Rocks.checkStatus(it);
                }
                try (RocksIterator it = rocks.db.newIterator(rocks.catalog, rocks.scanOptions)) {
                    for (it.seek(CatalogKey.kindStart(CatalogKey.RETAINED)); it.isValid(); it.next()) {
                        byte[] key = it.key();
                        if (CatalogKey.kind(key) != CatalogKey.RETAINED) {
                            break;
                        }
                        Volume volume = byId.get(CatalogKey.volumeId(key));
                        if (volume != null) {
                            volume.retained.put(CatalogKey.epochOf(key), ByteBuffer.wrap(it.value()).getLong());
                        }
                    }
                    Rocks.checkStatus(it);
                }
            } catch (RocksDBException e) {
                throw rocks.failure("loading the catalog", e);
            }
        }
    }

    /** Adds a volume to the in-memory catalog, and its pin to its parent. Under the lock. */
    private void register(Volume volume) {
        byName.put(volume.name, volume);
        byId.put(volume.id, volume);
        if (volume.parent != null) {
            volume.parent.clones.add(volume);
            volume.parent.pins.merge(volume.parentEpoch, 1, Integer::sum);
        }
    }

    private static byte[] longBytes(long value) {
        return ByteBuffer.allocate(8).putLong(value).array();
    }
}

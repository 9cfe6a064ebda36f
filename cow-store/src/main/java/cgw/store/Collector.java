package cgw.store;

import cgw.host.Pacer;
import cgw.store.key.BlockValue;
import cgw.store.key.DirtyKey;
import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.roaringbitmap.longlong.Roaring64Bitmap;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The collector: deletes block versions no kept epoch, clone or head can see any more, for the
 * collections the {@link Catalog} has pending (after releases, deletions of clones, some cuts),
 * looking only at the blocks written in each collection's span of epochs (the dirty index), never
 * at a whole volume. It also runs the value log's cleaner rounds, under the same lock, so that no
 * version it deletes is brought back by a relocation. Why a pass is safe against concurrent
 * writes and cuts: docs/store.md, "Garbage collection".
 *
 * <p>Threads: one pass or cleaner round at a time ({@link #lock}, first in the store's lock order,
 * see {@link StripeLocks}); its {@link CollectorThread} or any caller runs them.
 */
final class Collector {
    private static final Logger log = LoggerFactory.getLogger(Collector.class);
    private static final int CHUNK_REGIONS = 256;

    private final Rocks rocks;
    private final Catalog catalog;
    private final ExtentMap extents;
    private final LogCleaner cleaner;
    private final InFlightCalls calls;
    private final StripeLocks stripes;
    private final RecordCache records;
    private final int blockShift;
    /** Serialises collector passes and cleaner rounds; relocations of sealed versions try it. */
    private final ReentrantLock lock;
    private volatile BlockStore.GcStats totals = new BlockStore.GcStats(0, 0, 0); // written under lock

    Collector(Rocks rocks, Catalog catalog, ExtentMap extents, LogCleaner cleaner, InFlightCalls calls,
            ReentrantLock lock, StripeLocks stripes, RecordCache records, int blockShift) {
        this.rocks = rocks;
        this.records = records;
        this.stripes = stripes;
        this.blockShift = blockShift;
        this.catalog = catalog;
        this.extents = extents;
        this.cleaner = cleaner;
        this.calls = calls;
        this.lock = lock;
    }

    /** Totals of every pass since the store was opened. */
    BlockStore.GcStats totals() {
        return totals;
    }

    /** A round of the value log's cleaner if one is due ({@link LogCleaner}), or always when {@code force}d. */
    LogCleaner.Stats cleanValueLog(long entriesPerSecond, boolean force) {
        calls.enter();
        lock.lock();
        try {
            return cleaner.clean(entriesPerSecond, force);
        } finally {
            lock.unlock();
            calls.exit();
        }
    }

    /** Runs every pending collection, examining at most {@code blocksPerSecond} versions a second. */
    BlockStore.GcStats collectPending(long blocksPerSecond) {
        calls.enter();
        lock.lock();
        try {
            Pacer pacer = new Pacer(blocksPerSecond);
            long examined = 0;
            long deleted = 0;
            long done = 0;
            for (GcTask task : catalog.tasks()) {
                if (calls.isClosed()) {
                    break;
                }
                Volume volume = catalog.byId(task.volumeId());
                long[] counts = volume == null ? new long[2] : collectTask(volume, task, pacer);
                examined += counts[0];
                deleted += counts[1];
                catalog.finish(task, () -> totals = totals.plus(new BlockStore.GcStats(counts[0], counts[1], 1)));
                done++;
            }
            if (deleted > 0) {
                log.debug("collector: examined {} versions, deleted {}, tasks {}", examined, deleted, done);
                cleaner.hintGarbage();
            }
            return new BlockStore.GcStats(examined, deleted, done);
        } finally {
            lock.unlock();
            calls.exit();
        }
    }

    /**
     * Deletes unreachable versions of the blocks a task names. The decision per block uses the
     * full set of kept epochs, so it is right whatever scheduled the task. Safe against concurrent
     * writes and cuts: the kept set is taken after the iterator's implicit snapshot, so an epoch
     * retained later is newer than every version the iterator sees; and a record is changed only
     * under its region's stripe lock and only if it is still what the scan saw (a late write into a
     * sealed epoch may have merged into it meanwhile; the next pass looks again).
     */
    private long[] collectTask(Volume volume, GcTask task, Pacer pacer) {
        if (volume.deleted) {
            return new long[2];
        }
        Roaring64Bitmap candidates = extents.dirtyRegions(volume, task.fromEpoch(), task.toEpoch());
        long examined = 0;
        long deleted = 0;
        var regions = candidates.getLongIterator();
        long[] chunk = new long[CHUNK_REGIONS];
        while (regions.hasNext() && !calls.isClosed() && !volume.deleted) {
            int n = 0;
            while (n < chunk.length && regions.hasNext()) {
                chunk[n++] = regions.next();
            }
            long[] counts = collectRegions(volume, chunk, n);
            examined += counts[0];
            deleted += counts[1];
            pacer.paceKeepingInterrupt(counts[0]);
        }
        return new long[]{examined, deleted};
    }

    /** A region record the scan decided to delete (nothing of it is kept) or to write back with fewer slots. */
    private record Change(long region, long epoch, byte[] seen, byte @Nullable [] replacement) {
    }

    /** Examines the versions of the blocks of {@code n} regions; returns versions examined and deleted. */
    private long[] collectRegions(Volume volume, long[] chunk, int n) {
        long headBefore = volume.headEpoch;
        List<RegionRecord> pool = new ArrayList<>(); // decoded records, reused region after region: each is 2 KiB
        long examined = 0;
        long deleted = 0;
        List<Change> changes = new ArrayList<>();
        try (RocksIterator it = rocks.db.newIterator(rocks.blocks, rocks.scanOptions)) {
            // the iterator's view is fixed at its creation, before the kept set is read
            long[] kept = catalog.keptEpochs(volume);
            if (kept == null) {
                return new long[2];
            }
            boolean mayDropHoles = volume.parent == null;
            byte[] key = new byte[RegionKey.LENGTH];
            ByteBuffer keyBuffer = ByteBuffer.wrap(key);
            List<Long> epochs = new ArrayList<>();
            List<byte[]> values = new ArrayList<>();
            for (int c = 0; c < n; c++) {
                long region = chunk[c];
                epochs.clear();
                values.clear();
                for (it.seek(RegionKey.encode(volume.id, region, Long.MAX_VALUE)); it.isValid(); it.next()) {
                    it.key(key);
                    if (RegionKey.volumeId(keyBuffer) != volume.id || RegionKey.region(keyBuffer) != region) {
                        break;
                    }
                    epochs.add(RegionKey.epoch(keyBuffer));
                    values.add(it.value());
                }
                Rocks.checkStatus(it);
                while (pool.size() < values.size()) {
                    pool.add(new RegionRecord(blockShift));
                }
                RegionRecord[] records = pool.subList(0, values.size()).toArray(new RegionRecord[0]);
                for (int i = 0; i < records.length; i++) {
                    byte[] value = values.get(i);
                    RegionRecords.decode(records[i], ByteBuffer.wrap(value), value.length, false, volume.id, region,
                            epochs.get(i));
                    examined += Integer.bitCount(records[i].mask());
                }
                int[] keptMasks = keptSlots(records, epochs, kept, mayDropHoles, headBefore);
                for (int i = 0; i < records.length; i++) {
                    int dropped = records[i].mask() & ~keptMasks[i];
                    if (dropped == 0) {
                        continue;
                    }
                    deleted += Integer.bitCount(dropped);
                    byte[] replacement = null;
                    if (keptMasks[i] != 0) {
                        for (int slot = 0; slot < RegionRecord.SLOTS; slot++) {
                            if ((dropped & (1 << slot)) != 0) {
                                records[i].remove(slot);
                            }
                        }
                        ByteBuffer encoded = ByteBuffer.allocate(RegionRecord.MAX_LENGTH);
                        replacement = Arrays.copyOf(encoded.array(), records[i].encode(encoded));
                    }
                    changes.add(new Change(region, epochs.get(i), values.get(i), replacement));
                }
            }
        }
        if (!changes.isEmpty()) {
            apply(volume, changes);
        }
        return new long[]{examined, deleted};
    }

    /**
     * Per record (newest first), the slots some kept epoch still sees: slot {@code s} of the record
     * at epoch {@code e} is seen when a kept epoch lies in {@code [e, e')}, {@code e'} the epoch of
     * the next newer record holding {@code s}. Without a parent, a trimmed oldest survivor reads
     * exactly like no version at all, and goes too (unless it is the head's own).
     */
    private static int[] keptSlots(RegionRecord[] records, List<Long> epochs, long[] kept, boolean mayDropHoles,
            long headBefore) {
        int[] keptMasks = new int[records.length];
        for (int slot = 0; slot < RegionRecord.SLOTS; slot++) {
            long newer = Long.MAX_VALUE;
            int oldestKept = -1;
            for (int i = 0; i < records.length; i++) {
                if (!records[i].has(slot)) {
                    continue;
                }
                long epoch = epochs.get(i);
                if (anyIn(kept, epoch, newer)) {
                    keptMasks[i] |= 1 << slot;
                    oldestKept = i;
                }
                newer = epoch;
            }
            for (int i = oldestKept; mayDropHoles && i >= 0; i--) {
                if ((keptMasks[i] & (1 << slot)) == 0) {
                    continue;
                }
                ByteBuffer value = records[i].value(slot);
                boolean hole = value.remaining() == BlockValue.MARKER_LENGTH && value.get(0) == BlockValue.HOLE;
                if (hole && epochs.get(i) < headBefore) {
                    keptMasks[i] &= ~(1 << slot);
                } else {
                    break;
                }
            }
        }
        return keptMasks;
    }

    /** Deletes or rewrites the records, each only if it is still what the scan saw, under the stripe locks. */
    private void apply(Volume volume, List<Change> changes) {
        int[] wanted = new int[changes.size()];
        for (int i = 0; i < wanted.length; i++) {
            wanted[i] = stripes.stripeIndex(volume, changes.get(i).region() << RegionRecord.SHIFT);
        }
        int[] locked = stripes.lockInOrder(wanted);
        List<Change> applied = new ArrayList<>();
        try (WriteBatch batch = new WriteBatch()) {
            for (Change change : changes) {
                byte[] key = RegionKey.encode(volume.id, change.region(), change.epoch());
                byte[] now = rocks.db.get(rocks.blocks, rocks.readOptions, key);
                if (now == null || !Arrays.equals(now, change.seen())) {
                    continue; // written meanwhile: the next pass decides
                }
                applied.add(change);
                if (change.replacement() == null) {
                    batch.delete(rocks.blocks, key);
                    batch.delete(rocks.dirty, DirtyKey.encode(volume.id, change.epoch(), change.region()));
                } else {
                    batch.put(rocks.blocks, key, change.replacement());
                }
            }
            if (batch.count() > 0) {
                rocks.commit(batch);
            }
            for (Change change : applied) {
                records.forget(volume.id, change.region(), change.epoch());
            }
        } catch (RocksDBException e) {
            throw rocks.failure("collecting garbage of " + volume.name, e);
        } finally {
            stripes.unlock(locked);
        }
    }

    /** Whether a sorted array holds a value in {@code [from, to)}. */
    private static boolean anyIn(long[] sorted, long from, long to) {
        int at = Arrays.binarySearch(sorted, from);
        int index = at >= 0 ? at : -at - 1;
        return index < sorted.length && sorted[index] < to;
    }

    /** The epochs a block has versions in, newest first (for tests of the collector). */
    List<Long> versionsOf(Volume volume, long block) {
        List<Long> epochs = new ArrayList<>();
        long region = RegionRecord.region(block);
        byte[] key = new byte[RegionKey.LENGTH];
        ByteBuffer keyBuffer = ByteBuffer.wrap(key);
        RegionRecord record = new RegionRecord(blockShift);
        try (RocksIterator it = rocks.db.newIterator(rocks.blocks, rocks.scanOptions)) {
            for (it.seek(RegionKey.encode(volume.id, region, Long.MAX_VALUE)); it.isValid(); it.next()) {
                it.key(key);
                if (RegionKey.volumeId(keyBuffer) != volume.id || RegionKey.region(keyBuffer) != region) {
                    break;
                }
                byte[] value = it.value();
                RegionRecords.decode(record, ByteBuffer.wrap(value), value.length, false, volume.id, region,
                        RegionKey.epoch(keyBuffer));
                if (record.has(RegionRecord.slot(block))) {
                    epochs.add(RegionKey.epoch(keyBuffer));
                }
            }
            Rocks.checkStatus(it);
        }
        return epochs;
    }
}

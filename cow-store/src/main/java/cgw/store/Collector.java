package cgw.store;

import cgw.host.Pacer;
import cgw.store.key.BlockKey;
import cgw.store.key.BlockValue;
import cgw.store.key.DirtyKey;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
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
    private static final int CHUNK_BLOCKS = 4096;

    private final Rocks rocks;
    private final Catalog catalog;
    private final ExtentMap extents;
    private final LogCleaner cleaner;
    private final InFlightCalls calls;
    /** Serialises collector passes and cleaner rounds; relocations of sealed versions try it. */
    private final ReentrantLock lock;
    private volatile BlockStore.GcStats totals = new BlockStore.GcStats(0, 0, 0); // written under lock

    Collector(Rocks rocks, Catalog catalog, ExtentMap extents, LogCleaner cleaner, InFlightCalls calls,
            ReentrantLock lock) {
        this.rocks = rocks;
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
     * retained later is newer than every version the iterator sees.
     */
    private long[] collectTask(Volume volume, GcTask task, Pacer pacer) {
        if (volume.deleted) {
            return new long[2];
        }
        Roaring64Bitmap candidates = extents.dirtyBlocks(volume, task.fromEpoch(), task.toEpoch());
        long examined = 0;
        long deleted = 0;
        var blocks = candidates.getLongIterator();
        long[] chunk = new long[CHUNK_BLOCKS];
        while (blocks.hasNext() && !calls.isClosed() && !volume.deleted) {
            int n = 0;
            while (n < chunk.length && blocks.hasNext()) {
                chunk[n++] = blocks.next();
            }
            long[] counts = collectBlocks(volume, chunk, n);
            examined += counts[0];
            deleted += counts[1];
            pacer.paceKeepingInterrupt(counts[0]);
        }
        return new long[]{examined, deleted};
    }

    private long[] collectBlocks(Volume volume, long[] chunk, int n) {
        long headBefore = volume.headEpoch;
        long examined = 0;
        long deleted = 0;
        try (RocksIterator it = rocks.db.newIterator(rocks.blocks, rocks.scanOptions);
                WriteBatch batch = new WriteBatch()) {
            // the iterator's view is fixed at its creation, before the kept set is read
            long[] kept = catalog.keptEpochs(volume);
            if (kept == null) {
                return new long[2];
            }
            boolean mayDropHoles = volume.parent == null;
            byte[] key = new byte[BlockKey.LENGTH];
            ByteBuffer keyBuffer = ByteBuffer.wrap(key);
            byte[] marker = new byte[1];
            long[] epochs = new long[16];
            for (int c = 0; c < n; c++) {
                long block = chunk[c];
                int versions = 0;
                it.seek(BlockKey.encode(volume.id, block, Long.MAX_VALUE));
                for (; it.isValid(); it.next()) {
                    it.key(key);
                    if (BlockKey.volumeId(keyBuffer) != volume.id || BlockKey.blockIndex(keyBuffer) != block) {
                        break;
                    }
                    if (versions == epochs.length) {
                        epochs = Arrays.copyOf(epochs, versions * 2);
                    }
                    epochs[versions++] = BlockKey.epoch(keyBuffer);
                }
                Rocks.checkStatus(it);
                examined += versions;
                // newest first: a version is kept when some kept epoch lies in [epoch, newer)
                boolean[] keep = new boolean[versions];
                long newer = Long.MAX_VALUE;
                for (int i = 0; i < versions; i++) {
                    keep[i] = anyIn(kept, epochs[i], newer);
                    newer = epochs[i];
                }
                // without a parent, a trimmed oldest survivor reads exactly like no version at all;
                // only its value is read (values are large, keys are what the scan needs)
                for (int i = versions - 1; mayDropHoles && i >= 0; i--) {
                    if (!keep[i]) {
                        continue;
                    }
                    it.seek(BlockKey.encode(volume.id, block, epochs[i]));
                    boolean hole = it.isValid() && it.value(marker) == BlockValue.MARKER_LENGTH
                            && marker[0] == BlockValue.HOLE;
                    Rocks.checkStatus(it);
                    if (hole && epochs[i] < headBefore) {
                        keep[i] = false;
                    } else {
                        break;
                    }
                }
                for (int i = 0; i < versions; i++) {
                    if (!keep[i]) {
                        batch.delete(rocks.blocks, BlockKey.encode(volume.id, block, epochs[i]));
                        batch.delete(rocks.dirty, DirtyKey.encode(volume.id, epochs[i], block));
                        deleted++;
                    }
                }
            }
            if (batch.count() > 0) {
                rocks.commit(batch);
            }
        } catch (RocksDBException e) {
            throw rocks.failure("collecting garbage of " + volume.name, e);
        }
        return new long[]{examined, deleted};
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
        byte[] key = new byte[BlockKey.LENGTH];
        ByteBuffer keyBuffer = ByteBuffer.wrap(key);
        try (RocksIterator it = rocks.db.newIterator(rocks.blocks, rocks.scanOptions)) {
            for (it.seek(BlockKey.encode(volume.id, block, Long.MAX_VALUE)); it.isValid(); it.next()) {
                it.key(key);
                if (BlockKey.volumeId(keyBuffer) != volume.id || BlockKey.blockIndex(keyBuffer) != block) {
                    break;
                }
                epochs.add(BlockKey.epoch(keyBuffer));
            }
            Rocks.checkStatus(it);
        }
        return epochs;
    }
}

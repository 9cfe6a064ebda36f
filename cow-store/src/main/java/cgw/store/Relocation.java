package cgw.store;

import cgw.store.key.BlockKey;
import cgw.store.key.BlockPointer;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * The one place where block pointers change without a write: the value log's cleaner and the
 * defragmenter swap a version's pointer to a copy of its bytes ({@link LogMover}), only where the
 * pointer is still what they copied, so a write that replaced it meanwhile wins.
 *
 * <p>Threads: any; takes the volume's head lock (read side) and the blocks' stripe locks. The
 * caller keeps versions the collector deleted from coming back (see {@link #replaceValues}).
 */
final class Relocation {
    private final Rocks rocks;
    private final Catalog catalog;
    private final PointerCache pointerCache;
    private final PointerReads pointers;
    private final StripeLocks stripes;
    private final Durability durability;

    Relocation(Rocks rocks, Catalog catalog, PointerCache pointerCache, PointerReads pointers, StripeLocks stripes,
            Durability durability) {
        this.durability = durability;
        this.rocks = rocks;
        this.catalog = catalog;
        this.pointerCache = pointerCache;
        this.pointers = pointers;
        this.stripes = stripes;
    }

    /** How pointers are followed and checked: the rule a relocated copy's CRCs must keep. */
    PointerReads pointers() {
        return pointers;
    }

    /**
     * Replaces the values of block versions {@code keys[from, to)} (all of one volume) with
     * {@code replacements} where they are still {@code expected}, in one batch under the blocks'
     * stripe locks and the volume's head lock (writes and deletion of the volume cannot
     * interleave). A version the collector deleted must not come back: the caller holds the
     * collector's lock, or asks for {@code headOnly}, versions of the head epoch (checked under
     * the head lock), which the collector never deletes. Sets {@code replaced[i]} for each that
     * was; returns how many. Refused once a sync of the store failed.
     */
    int replaceValues(byte[][] keys, byte[][] expected, byte[][] replacements, boolean[] replaced, int from, int to,
            boolean headOnly) {
        Arrays.fill(replaced, from, to, false);
        // a copy made before a failed sync is not known to be on the disk; its original is
        durability.check();
        Volume volume = catalog.byId(BlockKey.volumeId(ByteBuffer.wrap(keys[from])));
        if (volume == null) {
            return 0;
        }
        volume.headLock.readLock().lock();
        try {
            if (volume.deleted) {
                return 0;
            }
            int[] locked = new int[to - from];
            for (int i = from; i < to; i++) {
                locked[i - from] = stripes.stripeIndex(volume, BlockKey.blockIndex(ByteBuffer.wrap(keys[i])));
            }
            locked = stripes.lockInOrder(locked);
            try {
                List<byte[]> current = rocks.db.multiGetAsList(rocks.scanOptions,
                        Collections.nCopies(to - from, rocks.blocks), Arrays.asList(keys).subList(from, to));
                int count = 0;
                try (WriteBatch batch = new WriteBatch()) {
                    for (int i = from; i < to; i++) {
                        if (Arrays.equals(current.get(i - from), expected[i])
                                && (!headOnly || BlockKey.epoch(ByteBuffer.wrap(keys[i])) == volume.headEpoch)) {
                            batch.put(rocks.blocks, keys[i], replacements[i]);
                            replaced[i] = true;
                            count++;
                        }
                    }
                    if (count > 0) {
                        rocks.commit(batch);
                    }
                }
                for (int i = from; i < to; i++) {
                    if (replaced[i]) {
                        cacheReplaced(volume, keys[i], replacements[i]);
                    }
                }
                return count;
            } catch (RocksDBException e) {
                throw rocks.failure("relocating blocks of " + volume.name, e);
            } finally {
                stripes.unlock(locked);
            }
        } finally {
            volume.headLock.readLock().unlock();
        }
    }

    /** After a relocation: the block's new pointer replaces what the cache held, as a write puts its own. */
    private void cacheReplaced(Volume volume, byte[] key, byte[] replacement) {
        ByteBuffer keyBuffer = ByteBuffer.wrap(key);
        long block = BlockKey.blockIndex(keyBuffer);
        pointerCache.clear(volume.id, block);
        if (BlockKey.epoch(keyBuffer) == volume.headEpoch && BlockPointer.isPointer(replacement.length)
                && !BlockPointer.inTable(replacement.length)) {
            ByteBuffer pointer = ByteBuffer.wrap(replacement);
            long crcs = pointers.crcs(pointer, 0, replacement.length);
            pointerCache.put(volume.id, block, volume.headEpoch, BlockPointer.segment(pointer, 0),
                    BlockPointer.position(pointer, 0), (int) (crcs >>> 32), (int) crcs);
        }
    }
}

package cgw.store;

import cgw.store.key.BlockPointer;
import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
    private final RecordCache records;
    private final PointerReads pointers;
    private final StripeLocks stripes;
    private final Durability durability;

    Relocation(Rocks rocks, Catalog catalog, PointerCache pointerCache, RecordCache records, PointerReads pointers,
            StripeLocks stripes, Durability durability) {
        this.durability = durability;
        this.records = records;
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
     * Replaces the values of block versions {@code (keys[i], slots[i])}, {@code i} in
     * {@code [from, to)} (region records of one volume and the block's slot in them), with
     * {@code replacements} where they are still {@code expected}, in one batch under the blocks'
     * stripe locks and the volume's head lock (writes and deletion of the volume cannot
     * interleave). A version the collector deleted must not come back: the caller holds the
     * collector's lock, or asks for {@code headOnly}, versions of the head epoch (checked under
     * the head lock), which the collector never deletes. Sets {@code replaced[i]} for each that
     * was; returns how many. Refused once a sync of the store failed.
     */
    int replaceValues(byte[][] keys, int[] slots, byte[][] expected, byte[][] replacements, boolean[] replaced,
            int from, int to, boolean headOnly) {
        Arrays.fill(replaced, from, to, false);
        // a copy made before a failed sync is not known to be on the disk; its original is
        durability.check();
        Volume volume = catalog.byId(RegionKey.volumeId(ByteBuffer.wrap(keys[from])));
        if (volume == null) {
            return 0;
        }
        volume.headLock.readLock().lock();
        try {
            if (volume.deleted) {
                return 0;
            }
            // the distinct records the versions are in, in the order first named
            Map<ByteBuffer, Integer> index = new LinkedHashMap<>();
            List<byte[]> distinct = new ArrayList<>();
            for (int i = from; i < to; i++) {
                if (index.putIfAbsent(ByteBuffer.wrap(keys[i]), distinct.size()) == null) {
                    distinct.add(keys[i]);
                }
            }
            int[] locked = new int[distinct.size()];
            for (int k = 0; k < locked.length; k++) {
                locked[k] = stripes.stripeIndex(volume,
                        RegionKey.region(ByteBuffer.wrap(distinct.get(k))) << RegionRecord.SHIFT);
            }
            locked = stripes.lockInOrder(locked);
            try {
                List<byte[]> current = rocks.db.multiGetAsList(rocks.scanOptions,
                        Collections.nCopies(distinct.size(), rocks.blocks), distinct);
                RegionRecord[] records = new RegionRecord[distinct.size()];
                boolean[] changed = new boolean[distinct.size()];
                int count = 0;
                for (int i = from; i < to; i++) {
                    int k = java.util.Objects.requireNonNull(index.get(ByteBuffer.wrap(keys[i])), "indexed above");
                    byte[] value = current.get(k);
                    if (value == null
                            || headOnly && RegionKey.epoch(ByteBuffer.wrap(keys[i])) != volume.headEpoch) {
                        continue;
                    }
                    if (records[k] == null) {
                        records[k] = new RegionRecord(pointers.blockShift());
                        ByteBuffer key = ByteBuffer.wrap(keys[i]);
                        RegionRecords.decode(records[k], ByteBuffer.wrap(value), value.length, false, volume.id,
                                RegionKey.region(key), RegionKey.epoch(key));
                    }
                    RegionRecord record = records[k];
                    if (record.has(slots[i]) && record.value(slots[i]).equals(ByteBuffer.wrap(expected[i]))) {
                        record.set(slots[i], ByteBuffer.wrap(replacements[i]));
                        changed[k] = true;
                        replaced[i] = true;
                        count++;
                    }
                }
                if (count > 0) {
                    try (WriteBatch batch = new WriteBatch()) {
                        ByteBuffer encoded = ByteBuffer.allocate(RegionRecord.MAX_LENGTH);
                        for (int k = 0; k < records.length; k++) {
                            if (changed[k]) {
                                int length = records[k].encode(encoded.clear());
                                batch.put(rocks.blocks, distinct.get(k), Arrays.copyOf(encoded.array(), length));
                            }
                        }
                        rocks.commit(batch);
                    }
                    for (int k = 0; k < records.length; k++) {
                        if (changed[k]) {
                            ByteBuffer key = ByteBuffer.wrap(distinct.get(k));
                            this.records.forget(volume.id, RegionKey.region(key), RegionKey.epoch(key));
                        }
                    }
                }
                for (int i = from; i < to; i++) {
                    if (replaced[i]) {
                        cacheReplaced(volume, keys[i], slots[i], replacements[i]);
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
    private void cacheReplaced(Volume volume, byte[] key, int slot, byte[] replacement) {
        ByteBuffer keyBuffer = ByteBuffer.wrap(key);
        long block = (RegionKey.region(keyBuffer) << RegionRecord.SHIFT) + slot;
        pointerCache.clear(volume.id, block);
        if (RegionKey.epoch(keyBuffer) == volume.headEpoch && BlockPointer.isPointer(replacement.length)
                && !BlockPointer.inTable(replacement.length)) {
            ByteBuffer pointer = ByteBuffer.wrap(replacement);
            long crcs = pointers.crcs(pointer, 0, replacement.length);
            pointerCache.put(volume.id, block, volume.headEpoch, BlockPointer.segment(pointer, 0),
                    BlockPointer.position(pointer, 0), (int) (crcs >>> 32), (int) crcs);
        }
    }
}

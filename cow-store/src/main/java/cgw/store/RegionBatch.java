package cgw.store;

import cgw.store.key.DirtyKey;
import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;

/**
 * The region records one write batch changes: the versions a batch gives its blocks, gathered per
 * region, then put as one record per region ({@link #putInto}). A record that covers its whole
 * region, or whose region has none at the epoch yet ({@link HeadRegions}), is put as it is; any
 * other is merged into the record there first (from the {@link RecordCache}, or a lookup; under the
 * region's stripe lock, which the writer holds). A region's first record at an epoch also puts its
 * dirty-index entry. Once the batch is committed, the records it put go to the cache.
 *
 * <p>One per {@link WriteContext}; only its thread touches it.
 */
final class RegionBatch {
    private static final int FULL = (1 << RegionRecord.SLOTS) - 1;
    /** A batch of {@link BlockStore#MAX_BATCH_BLOCKS} blocks at any alignment touches one region more. */
    private static final int MAX_REGIONS = BlockStore.MAX_BATCH_BLOCKS / RegionRecord.SLOTS + 1;
    /** The most regions a batch of scattered blocks ({@link #beginRegions}) may touch. */
    static final int MAX_SCATTERED_REGIONS = MAX_REGIONS - 1;

    private final RegionRecord[] records = new RegionRecord[MAX_REGIONS];
    private final ByteBuffer key = ByteBuffer.allocateDirect(RegionKey.LENGTH);
    private final ByteBuffer dirtyKey = ByteBuffer.allocateDirect(DirtyKey.LENGTH);
    private final ByteBuffer empty = ByteBuffer.allocateDirect(0);
    private final ByteBuffer value = ByteBuffer.allocateDirect(RegionRecord.MAX_LENGTH);
    private final ByteBuffer existing = ByteBuffer.allocateDirect(RegionRecord.MAX_LENGTH);
    /** Head-epoch regions whose first record the batch puts: added to {@link HeadRegions} once committed. */
    private final long[] created = new long[MAX_REGIONS];
    private int createdCount;
    /**
     * The records {@link #putInto} encoded, by index (null where it put none): what the cache gets
     * once they are committed, or forgets when they were not.
     */
    private final byte[][] pending = new byte[MAX_REGIONS][];
    private long pendingVolumeId;
    private long pendingEpoch;
    private long firstRegion;
    private int regions;
    /** The regions of a batch of scattered blocks, ascending; unused for a range ({@link #begin}). */
    private final long[] scattered = new long[MAX_SCATTERED_REGIONS];
    private boolean isScattered;

    RegionBatch(int blockShift) {
        for (int i = 0; i < MAX_REGIONS; i++) {
            records[i] = new RegionRecord(blockShift);
        }
    }

    /** Starts a batch of the blocks {@code [firstBlock, lastBlock]}: no region changed yet. */
    void begin(long firstBlock, long lastBlock) {
        firstRegion = RegionRecord.region(firstBlock);
        regions = (int) (RegionRecord.region(lastBlock) - firstRegion + 1);
        if (regions > MAX_REGIONS) {
            throw new IllegalArgumentException("a batch of blocks " + firstBlock + " to " + lastBlock + " spans "
                    + regions + " regions");
        }
        isScattered = false;
        clearRecords();
    }

    /** Starts a batch of blocks in the regions {@code regionIds[0, count)}, ascending and each once. */
    void beginRegions(long[] regionIds, int count) {
        if (count > MAX_SCATTERED_REGIONS) {
            throw new IllegalArgumentException("a batch of scattered blocks in " + count + " regions");
        }
        System.arraycopy(regionIds, 0, scattered, 0, count);
        regions = count;
        isScattered = true;
        clearRecords();
    }

    private void clearRecords() {
        for (int i = 0; i < regions; i++) {
            records[i].clear();
        }
        Arrays.fill(pending, null);
        createdCount = 0;
    }

    private long regionAt(int index) {
        return isScattered ? scattered[index] : firstRegion + index;
    }

    /** Gives {@code block} the version {@code version} (a marker or a pointer, its remaining bytes). */
    void set(long block, ByteBuffer version) {
        records[index(block)].set(RegionRecord.slot(block), version);
    }

    /** Gives {@code block} a short-form pointer. */
    void setPointer(long block, int segment, long position, int crc) {
        records[index(block)].setPointer(RegionRecord.slot(block), segment, position, crc);
    }

    private int index(long block) {
        int i = isScattered
                ? Arrays.binarySearch(scattered, 0, regions, RegionRecord.region(block))
                : (int) (RegionRecord.region(block) - firstRegion);
        if (i < 0 || i >= regions) {
            throw new IllegalArgumentException("block " + block + " is outside the batch's regions");
        }
        return i;
    }

    /**
     * Puts the changed regions' records (and the dirty entries of new ones) into {@code batch},
     * merged with the records there where needed. Under the stripe locks of the batch's regions;
     * then {@link #committed} or, when the batch did not reach RocksDB, {@link #abandoned}.
     */
    void putInto(WriteBatch batch, Rocks rocks, RecordCache cache, Volume volume, long epoch)
            throws RocksDBException {
        HeadRegions known = volume.headRegions;
        boolean head = known.epoch == epoch;
        pendingVolumeId = volume.id;
        pendingEpoch = epoch;
        for (int i = 0; i < regions; i++) {
            RegionRecord record = records[i];
            if (record.isEmpty()) {
                continue;
            }
            long region = regionAt(i);
            boolean present = head && known.contains(region);
            boolean absent = head && !present && known.complete();
            if (!absent && record.mask() != FULL) {
                // the write's slots stay; the record there fills the others
                byte[] cached = cache.get(volume.id, region, epoch);
                if (cached != null) {
                    RegionRecords.decode(record, ByteBuffer.wrap(cached), cached.length, true, volume.id, region,
                            epoch);
                    present = true;
                } else {
                    present = RegionRecords.read(rocks, volume.id, region, epoch, key, existing, record, true);
                }
                absent = !present;
            }
            RegionKey.encode(key.clear(), volume.id, region, epoch);
            int length = record.encode(value.clear());
            batch.put(rocks.blocks, key, value.limit(length));
            pending[i] = new byte[length];
            value.get(0, pending[i]);
            if (!present) {
                // a new record, or one that may be (a whole region not known either way): its index entry
                DirtyKey.encode(dirtyKey.clear(), volume.id, epoch, region);
                batch.put(rocks.dirty, dirtyKey, empty.clear());
                if (head) {
                    created[createdCount++] = region;
                }
            }
        }
    }

    /**
     * After the batch is in RocksDB: the head-epoch records it made are known to be there, and
     * the records it put go to the cache.
     */
    void committed(Volume volume, RecordCache cache) {
        HeadRegions known = volume.headRegions;
        for (int i = 0; i < createdCount; i++) {
            known.add(created[i]);
        }
        createdCount = 0;
        for (int i = 0; i < regions; i++) {
            if (pending[i] != null) {
                cache.put(pendingVolumeId, regionAt(i), pendingEpoch, pending[i]);
                pending[i] = null;
            }
        }
    }

    /**
     * The batch did not reach RocksDB, or may not have: the cache forgets its regions, whatever
     * RocksDB holds for them now is read again.
     */
    void abandoned(RecordCache cache) {
        for (int i = 0; i < regions; i++) {
            if (pending[i] != null) {
                cache.forget(pendingVolumeId, regionAt(i), pendingEpoch);
                pending[i] = null;
            }
        }
    }
}

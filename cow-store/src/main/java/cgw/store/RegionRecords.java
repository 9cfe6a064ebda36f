package cgw.store;

import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;

/**
 * Region records read back from RocksDB: the one place that turns bytes the store did not write
 * (too long, or not a record) into a {@link StoreException} naming where they are.
 */
final class RegionRecords {
    private RegionRecords() {
    }

    /**
     * Decodes the {@code size}-byte record at index 0 of {@code bytes} into {@code into}; with
     * {@code fill}, adds only the slots {@code into} lacks (older versions under newer ones).
     */
    static void decode(RegionRecord into, ByteBuffer bytes, int size, boolean fill, long volumeId, long region,
            long epoch) {
        if (size > RegionRecord.MAX_LENGTH || size > bytes.capacity()) {
            throw new StoreException("region " + region + " of volume " + volumeId + " at epoch " + epoch
                    + " has a record of " + size + " bytes, more than a region record can be");
        }
        try {
            if (fill) {
                into.fillFrom(bytes.position(0).limit(size));
            } else {
                into.decode(bytes.position(0).limit(size));
            }
        } catch (IllegalArgumentException e) {
            throw new StoreException("region " + region + " of volume " + volumeId + " at epoch " + epoch + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Reads the record of {@code region} at exactly {@code epoch} into {@code into} (as
     * {@link #decode} with {@code fill}), through the caller's direct {@code key} and
     * {@code buffer} (of {@link RegionRecord#MAX_LENGTH}); false, with {@code into} unchanged, when
     * there is none.
     */
    static boolean read(Rocks rocks, long volumeId, long region, long epoch, ByteBuffer key, ByteBuffer buffer,
            RegionRecord into, boolean fill) throws RocksDBException {
        RegionKey.encode(key.clear(), volumeId, region, epoch);
        int size = rocks.db.get(rocks.blocks, rocks.readOptions, key, buffer.clear());
        key.clear(); // the lookup moved its position to the limit
        if (size == RocksDB.NOT_FOUND) {
            return false;
        }
        decode(into, buffer, size, fill, volumeId, region, epoch);
        return true;
    }
}

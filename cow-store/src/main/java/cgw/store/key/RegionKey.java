package cgw.store.key;

import java.nio.ByteBuffer;

/**
 * Layout of a key in the {@code regions} column family of store format 2: the versions of one
 * aligned region of {@link RegionRecord#SLOTS} blocks written in one epoch ({@link RegionRecord}).
 *
 * <pre>
 *   0                   8                   16                  24
 *   +-------------------+-------------------+-------------------+
 *   | volumeId (BE u64) | region (BE u64)   | ~epoch (BE u64)   |
 *   +-------------------+-------------------+-------------------+
 * </pre>
 *
 * The epoch is stored inverted so that, under RocksDB's bytewise comparator, the newest record
 * of a region sorts first: a seek to {@code (volume, region, ~e)} lands on the newest record
 * whose epoch is at most {@code e}. Stateless; every method works on a caller's buffer at
 * absolute positions and never moves its position or limit.
 */
public final class RegionKey {
    public static final int VOLUME_OFFSET = 0;
    public static final int REGION_OFFSET = 8;
    public static final int EPOCH_OFFSET = 16;
    public static final int LENGTH = 24;
    /** Length of the prefix shared by all records of one region. */
    public static final int REGION_PREFIX_LENGTH = 16;

    private RegionKey() {
    }

    public static void encode(ByteBuffer key, long volumeId, long region, long epoch) {
        key.putLong(VOLUME_OFFSET, volumeId);
        key.putLong(REGION_OFFSET, region);
        key.putLong(EPOCH_OFFSET, ~epoch);
    }

    public static byte[] encode(long volumeId, long region, long epoch) {
        ByteBuffer key = ByteBuffer.allocate(LENGTH);
        encode(key, volumeId, region, epoch);
        return key.array();
    }

    /** First key of a volume: a {@code deleteRange} from here to {@link #volumeEnd} drops it whole. */
    public static byte[] volumeStart(long volumeId) {
        return ByteBuffer.allocate(8).putLong(0, volumeId).array();
    }

    public static byte[] volumeEnd(long volumeId) {
        return volumeStart(volumeId + 1);
    }

    public static long volumeId(ByteBuffer key) {
        return key.getLong(VOLUME_OFFSET);
    }

    public static long region(ByteBuffer key) {
        return key.getLong(REGION_OFFSET);
    }

    public static long epoch(ByteBuffer key) {
        return ~key.getLong(EPOCH_OFFSET);
    }
}

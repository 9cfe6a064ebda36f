package cgw.store.key;

import java.nio.ByteBuffer;

/**
 * Layout of a key in the {@code dirty} column family: "region R has a record written in epoch E".
 *
 * <pre>
 *   0                   8                   16                  24
 *   +-------------------+-------------------+-------------------+
 *   | volumeId (BE u64) | epoch (BE u64)    | region (BE u64)   |
 *   +-------------------+-------------------+-------------------+
 * </pre>
 *
 * The value is empty. The dirty family is an index of the blocks family ordered by epoch: a dirty
 * key exists exactly when the region key {@code (volumeId, region, ~epoch)} does, and both are
 * always put and deleted in the same {@code WriteBatch}. Changed-block sets and the garbage
 * collector's candidates come from range scans here (and the records they name), never from a
 * scan of a whole volume.
 */
public final class DirtyKey {
    public static final int VOLUME_OFFSET = 0;
    public static final int EPOCH_OFFSET = 8;
    public static final int REGION_OFFSET = 16;
    public static final int LENGTH = 24;

    private DirtyKey() {
    }

    public static void encode(ByteBuffer key, long volumeId, long epoch, long region) {
        key.putLong(VOLUME_OFFSET, volumeId);
        key.putLong(EPOCH_OFFSET, epoch);
        key.putLong(REGION_OFFSET, region);
    }

    public static byte[] encode(long volumeId, long epoch, long region) {
        ByteBuffer key = ByteBuffer.allocate(LENGTH);
        encode(key, volumeId, epoch, region);
        return key.array();
    }

    public static long volumeId(ByteBuffer key) {
        return key.getLong(VOLUME_OFFSET);
    }

    public static long epoch(ByteBuffer key) {
        return key.getLong(EPOCH_OFFSET);
    }

    public static long region(ByteBuffer key) {
        return key.getLong(REGION_OFFSET);
    }
}

package cgw.store.key;

import java.nio.ByteBuffer;

/**
 * Layout of a key in the {@code blocks} column family: one version of one block.
 *
 * <pre>
 *   0                   8                   16                  24
 *   +-------------------+-------------------+-------------------+
 *   | volumeId (BE u64) | blockIndex (BE)   | ~epoch (BE u64)   |
 *   +-------------------+-------------------+-------------------+
 * </pre>
 *
 * The epoch is stored inverted so that, under RocksDB's bytewise comparator, the newest version
 * of a block sorts first: a seek to {@code (volume, block, ~e)} lands on the newest version whose
 * epoch is at most {@code e}. Stateless; every method works on a caller's buffer at absolute
 * positions and never moves its position or limit.
 */
public final class BlockKey {
    public static final int VOLUME_OFFSET = 0;
    public static final int BLOCK_OFFSET = 8;
    public static final int EPOCH_OFFSET = 16;
    public static final int LENGTH = 24;
    /** Length of the prefix shared by all versions of one block. */
    public static final int BLOCK_PREFIX_LENGTH = 16;

    private BlockKey() {
    }

    public static void encode(ByteBuffer key, long volumeId, long blockIndex, long epoch) {
        key.putLong(VOLUME_OFFSET, volumeId);
        key.putLong(BLOCK_OFFSET, blockIndex);
        key.putLong(EPOCH_OFFSET, ~epoch);
    }

    public static byte[] encode(long volumeId, long blockIndex, long epoch) {
        ByteBuffer key = ByteBuffer.allocate(LENGTH);
        encode(key, volumeId, blockIndex, epoch);
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

    public static long blockIndex(ByteBuffer key) {
        return key.getLong(BLOCK_OFFSET);
    }

    public static long epoch(ByteBuffer key) {
        return ~key.getLong(EPOCH_OFFSET);
    }
}

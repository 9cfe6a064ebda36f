package cgw.store.key;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Keys of the catalog (RocksDB's default column family). The catalog changes in the same
 * {@code WriteBatch} as the data it describes.
 *
 * <pre>
 *   'M' name (ASCII)                  -> store metadata (format, block size, next volume id)
 *   'V' volumeId (BE u64)             -> a volume record
 *   'E' volumeId (BE u64) epoch (BE)  -> retained epoch; value: volume size at the cut (BE u64)
 *   'G' volumeId from (BE) to (BE)    -> collector work: blocks written in epochs [from, to]
 *   'A' name (ASCII)                  -> a record of a layer above the store (snapshots, groups)
 *
 *   0      1            9            17           25
 *   | kind | volumeId   | epoch/from | to         |
 * </pre>
 */
public final class CatalogKey {
    public static final byte META = 'M';
    public static final byte VOLUME = 'V';
    public static final byte RETAINED = 'E';
    public static final byte PENDING_GC = 'G';
    public static final byte APP = 'A';

    private static final int KIND_OFFSET = 0;
    private static final int NAME_OFFSET = 1;
    private static final int VOLUME_ID_OFFSET = 1;
    private static final int EPOCH_OFFSET = 9;
    private static final int FROM_EPOCH_OFFSET = 9;
    private static final int TO_EPOCH_OFFSET = 17;
    private static final int VOLUME_LENGTH = 9;
    private static final int EPOCH_LENGTH = 17;
    private static final int GC_TASK_LENGTH = 25;

    private CatalogKey() {
    }

    public static byte[] meta(String name) {
        return named(META, name);
    }

    public static byte[] app(String name) {
        return named(APP, name);
    }

    private static byte[] named(byte kind, String name) {
        byte[] ascii = name.getBytes(StandardCharsets.US_ASCII);
        return ByteBuffer.allocate(NAME_OFFSET + ascii.length).put(KIND_OFFSET, kind).put(NAME_OFFSET, ascii).array();
    }

    /** The name of an {@link #APP} key. */
    public static String appName(byte[] key) {
        return new String(key, NAME_OFFSET, key.length - NAME_OFFSET, StandardCharsets.US_ASCII);
    }

    public static byte[] volume(long volumeId) {
        return ByteBuffer.allocate(VOLUME_LENGTH).put(KIND_OFFSET, VOLUME).putLong(VOLUME_ID_OFFSET, volumeId).array();
    }

    public static byte[] epoch(byte kind, long volumeId, long epoch) {
        return ByteBuffer.allocate(EPOCH_LENGTH).put(KIND_OFFSET, kind).putLong(VOLUME_ID_OFFSET, volumeId)
                .putLong(EPOCH_OFFSET, epoch).array();
    }

    public static byte[] gcTask(long volumeId, long fromEpoch, long toEpoch) {
        return ByteBuffer.allocate(GC_TASK_LENGTH).put(KIND_OFFSET, PENDING_GC).putLong(VOLUME_ID_OFFSET, volumeId)
                .putLong(FROM_EPOCH_OFFSET, fromEpoch).putLong(TO_EPOCH_OFFSET, toEpoch).array();
    }

    /** Start of all keys of {@code kind} for one volume, for a range scan or {@code deleteRange}. */
    public static byte[] epochsStart(byte kind, long volumeId) {
        return ByteBuffer.allocate(VOLUME_LENGTH).put(KIND_OFFSET, kind).putLong(VOLUME_ID_OFFSET, volumeId).array();
    }

    public static byte[] epochsEnd(byte kind, long volumeId) {
        return epochsStart(kind, volumeId + 1);
    }

    /** The first key of {@code kind}, where a scan of every key of that kind starts. */
    public static byte[] kindStart(byte kind) {
        return new byte[]{kind};
    }

    public static byte kind(byte[] key) {
        return key[KIND_OFFSET];
    }

    public static long volumeId(byte[] key) {
        return ByteBuffer.wrap(key).getLong(VOLUME_ID_OFFSET);
    }

    /** The epoch of a {@link #RETAINED} key. */
    public static long epochOf(byte[] key) {
        return ByteBuffer.wrap(key).getLong(EPOCH_OFFSET);
    }

    /** The first epoch of a {@link #PENDING_GC} key. */
    public static long fromEpochOf(byte[] key) {
        return ByteBuffer.wrap(key).getLong(FROM_EPOCH_OFFSET);
    }

    /** The last epoch of a {@link #PENDING_GC} key. */
    public static long toEpochOf(byte[] key) {
        return ByteBuffer.wrap(key).getLong(TO_EPOCH_OFFSET);
    }
}

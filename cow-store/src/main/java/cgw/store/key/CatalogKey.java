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
 * </pre>
 */
public final class CatalogKey {
    public static final byte META = 'M';
    public static final byte VOLUME = 'V';
    public static final byte RETAINED = 'E';
    public static final byte PENDING_GC = 'G';
    public static final byte APP = 'A';

    private CatalogKey() {
    }

    public static byte[] meta(String name) {
        byte[] ascii = name.getBytes(StandardCharsets.US_ASCII);
        return ByteBuffer.allocate(1 + ascii.length).put(META).put(ascii).array();
    }

    public static byte[] app(String name) {
        byte[] ascii = name.getBytes(StandardCharsets.US_ASCII);
        return ByteBuffer.allocate(1 + ascii.length).put(APP).put(ascii).array();
    }

    /** The name of an {@link #APP} key. */
    public static String appName(byte[] key) {
        return new String(key, 1, key.length - 1, StandardCharsets.US_ASCII);
    }

    public static byte[] volume(long volumeId) {
        return ByteBuffer.allocate(9).put(VOLUME).putLong(volumeId).array();
    }

    public static byte[] epoch(byte kind, long volumeId, long epoch) {
        return ByteBuffer.allocate(17).put(kind).putLong(volumeId).putLong(epoch).array();
    }

    public static byte[] gcTask(long volumeId, long fromEpoch, long toEpoch) {
        return ByteBuffer.allocate(25).put(PENDING_GC).putLong(volumeId).putLong(fromEpoch).putLong(toEpoch).array();
    }

    /** Start of all keys of {@code kind} for one volume, for a range scan or {@code deleteRange}. */
    public static byte[] epochsStart(byte kind, long volumeId) {
        return ByteBuffer.allocate(9).put(kind).putLong(volumeId).array();
    }

    public static byte[] epochsEnd(byte kind, long volumeId) {
        return epochsStart(kind, volumeId + 1);
    }

    public static byte kind(byte[] key) {
        return key[0];
    }

    public static long volumeId(byte[] key) {
        return ByteBuffer.wrap(key).getLong(1);
    }

    public static long epochOf(byte[] key) {
        return ByteBuffer.wrap(key).getLong(9);
    }
}

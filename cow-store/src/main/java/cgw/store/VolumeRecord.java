package cgw.store;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The durable part of a volume, as stored under {@code 'V' volumeId} in the catalog.
 *
 * <pre>
 *   u8  format (1)
 *   u64 id, u64 sizeBytes, u64 headEpoch, u64 createdAtMillis
 *   u64 parentId (0: none), u64 parentEpoch, u64 parentSizeBytes
 *   u16 name length, name (UTF-8)
 * </pre>
 */
record VolumeRecord(long id, String name, long sizeBytes, long headEpoch, long createdAtMillis,
        long parentId, long parentEpoch, long parentSizeBytes) {
    private static final byte FORMAT = 1;

    VolumeRecord withSizeBytes(long newSizeBytes) {
        return new VolumeRecord(id, name, newSizeBytes, headEpoch, createdAtMillis, parentId, parentEpoch,
                parentSizeBytes);
    }

    VolumeRecord withHeadEpoch(long newHeadEpoch) {
        return new VolumeRecord(id, name, sizeBytes, newHeadEpoch, createdAtMillis, parentId, parentEpoch,
                parentSizeBytes);
    }

    byte[] encode() {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(1 + 7 * 8 + 2 + nameBytes.length)
                .put(FORMAT)
                .putLong(id).putLong(sizeBytes).putLong(headEpoch).putLong(createdAtMillis)
                .putLong(parentId).putLong(parentEpoch).putLong(parentSizeBytes)
                .putShort((short) nameBytes.length).put(nameBytes)
                .array();
    }

    static VolumeRecord decode(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        byte format = in.get();
        if (format != FORMAT) {
            throw new StoreException("unknown volume record format " + format);
        }
        long id = in.getLong();
        long size = in.getLong();
        long head = in.getLong();
        long created = in.getLong();
        long parentId = in.getLong();
        long parentEpoch = in.getLong();
        long parentSize = in.getLong();
        byte[] name = new byte[Short.toUnsignedInt(in.getShort())];
        in.get(name);
        return new VolumeRecord(id, new String(name, StandardCharsets.UTF_8), size, head, created,
                parentId, parentEpoch, parentSize);
    }
}

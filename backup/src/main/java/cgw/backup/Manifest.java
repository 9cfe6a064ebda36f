package cgw.backup;

import java.util.List;

/**
 * One exported group snapshot: its group metadata and, per volume, the chunks that hold data.
 * Self-contained: restorable without its parent, which only says where an incremental export
 * started from. Immutable.
 *
 * @param snapshotId       the gateway's snapshot id
 * @param group            the group, or null for an ad-hoc snapshot
 * @param label            the snapshot's label, or null
 * @param createdAtMillis  when the barrier ran
 * @param freezeMicros     how long the barrier held replies
 * @param sourceGateway    which gateway exported it
 * @param exportedAtMillis when the export finished
 * @param parentSnapshotId the snapshot an incremental export started from, 0 for a full export
 * @param volumes          in the snapshot's member order
 */
public record Manifest(long snapshotId, String group, String label, long createdAtMillis, long freezeMicros,
        String sourceGateway, long exportedAtMillis, long parentSnapshotId, List<VolumeEntry> volumes) {
    public Manifest {
        volumes = List.copyOf(volumes);
    }

    /**
     * One volume of the snapshot.
     *
     * @param chunks the chunks holding data, by ascending index; every other chunk reads as zeros
     */
    public record VolumeEntry(String name, long volumeId, long epoch, long sizeBytes, int chunkSizeBytes,
            List<ChunkRef> chunks) {
        public VolumeEntry {
            chunks = List.copyOf(chunks);
        }

        public long chunkCount() {
            return (sizeBytes + chunkSizeBytes - 1) / chunkSizeBytes;
        }

        /** Bytes of chunk {@code index}: the chunk size, less for a volume's last chunk. */
        public int chunkLengthBytes(long index) {
            return (int) Math.min(chunkSizeBytes, sizeBytes - index * chunkSizeBytes);
        }
    }

    /** Chunk {@code index} of a volume (bytes {@code index * chunkSize} onwards) is stored as {@code id}. */
    public record ChunkRef(long index, ChunkId id) {
    }

    public String objectKey() {
        return objectKey(snapshotId);
    }

    static final String PREFIX = "snapshots/";
    static final String SUFFIX = ".manifest";

    static String objectKey(long snapshotId) {
        return PREFIX + snapshotId + SUFFIX;
    }

    /** The snapshot id of a manifest's key, or -1 when the key is not a manifest's. */
    static long snapshotIdOf(String key) {
        if (!key.startsWith(PREFIX) || !key.endsWith(SUFFIX)) {
            return -1;
        }
        String digits = key.substring(PREFIX.length(), key.length() - SUFFIX.length());
        if (digits.isEmpty() || digits.length() > 18 || !digits.chars().allMatch(Character::isDigit)) {
            return -1;
        }
        return Long.parseLong(digits);
    }
}

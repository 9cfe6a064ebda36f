package cgw.backup;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;

/**
 * The plaintext of a manifest object (which {@link ObjectCodec} then compresses and seals):
 *
 * <pre>
 *  +--------+---------+-------------+-----------+------------------------------+-------------+
 *  | "CGWM" | version | JSON length | JSON      | chunk tables                 | SHA-256     |
 *  | 4      | 1       | 4 (u32 BE)  | L bytes   | per volume, in JSON order:   | 32, of all  |
 *  |        |         |             |           | count x (u64 BE index, id 32)| before it   |
 *  +--------+---------+-------------+-----------+------------------------------+-------------+
 * </pre>
 *
 * The JSON holds the snapshot's metadata and each volume's fields with its {@code chunkCount}; the
 * tables are binary because they are most of the manifest (40 bytes a chunk). The trailing
 * SHA-256 catches corruption of an unencrypted manifest (an encrypted one is authenticated too).
 * Stateless; safe from any thread.
 */
final class ManifestCodec {
    static final byte[] MAGIC = {'C', 'G', 'W', 'M'};
    static final int VERSION = 1;
    private static final int ENTRY_BYTES = 8 + ChunkId.BYTES;
    private static final int DIGEST_BYTES = 32;
    static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private ManifestCodec() {
    }

    /** The JSON part: the manifest without its chunk tables. */
    record Header(int version, long snapshotId, String group, String label, long createdAtMillis, long freezeMicros,
            String sourceGateway, long exportedAtMillis, Long parentSnapshotId, List<VolumeHeader> volumes) {
    }

    record VolumeHeader(String name, long volumeId, long epoch, long sizeBytes, int chunkSizeBytes, long chunkCount) {
    }

    static byte[] encode(Manifest manifest) {
        List<VolumeHeader> volumes = new ArrayList<>();
        long entries = 0;
        for (Manifest.VolumeEntry v : manifest.volumes()) {
            volumes.add(new VolumeHeader(v.name(), v.volumeId(), v.epoch(), v.sizeBytes(), v.chunkSizeBytes(),
                    v.chunks().size()));
            entries += v.chunks().size();
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(new Header(VERSION, manifest.snapshotId(), manifest.group(), manifest.label(),
                    manifest.createdAtMillis(), manifest.freezeMicros(), manifest.sourceGateway(),
                    manifest.exportedAtMillis(), manifest.parentSnapshotId() == 0 ? null : manifest.parentSnapshotId(),
                    volumes));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("manifest header does not serialise", e);
        }
        long total = MAGIC.length + 1 + 4 + json.length + entries * ENTRY_BYTES + DIGEST_BYTES;
        if (total > ObjectStore.MAX_OBJECT_BYTES) {
            throw new BackupException("manifest of snapshot " + manifest.snapshotId() + " would be " + total
                    + " bytes, more than " + ObjectStore.MAX_OBJECT_BYTES);
        }
        byte[] out = new byte[(int) total];
        ByteBuffer buf = ByteBuffer.wrap(out);
        buf.put(MAGIC).put((byte) VERSION).putInt(json.length).put(json);
        byte[] id = new byte[ChunkId.BYTES];
        for (Manifest.VolumeEntry v : manifest.volumes()) {
            for (Manifest.ChunkRef ref : v.chunks()) {
                ref.id().writeTo(id, 0);
                buf.putLong(ref.index()).put(id);
            }
        }
        buf.put(sha256(out, buf.position()));
        return out;
    }

    static Manifest decode(String key, byte[] plain) {
        try {
            return decodeChecked(key, plain);
        } catch (IOException | RuntimeException e) {
            if (e instanceof CorruptObjectException c) {
                throw c;
            }
            throw new CorruptObjectException(key + ": malformed manifest: " + e.getMessage(), e);
        }
    }

    private static Manifest decodeChecked(String key, byte[] plain) throws IOException {
        int bodyLength = plain.length - DIGEST_BYTES;
        if (bodyLength < MAGIC.length + 5 || !MessageDigest.isEqual(sha256(plain, bodyLength),
                java.util.Arrays.copyOfRange(plain, bodyLength, plain.length))) {
            throw new CorruptObjectException(key + ": manifest checksum mismatch");
        }
        ByteBuffer buf = ByteBuffer.wrap(plain, 0, bodyLength);
        byte[] magic = new byte[MAGIC.length];
        buf.get(magic);
        int version = buf.get() & 0xff;
        if (!java.util.Arrays.equals(magic, MAGIC) || version != VERSION) {
            throw new RepositoryFormatException(key + ": not a manifest of version " + VERSION);
        }
        int jsonLength = buf.getInt();
        if (jsonLength < 0 || jsonLength > buf.remaining()) {
            throw new CorruptObjectException(key + ": bad header length " + jsonLength);
        }
        Header header = JSON.readValue(plain, buf.position(), jsonLength, Header.class);
        buf.position(buf.position() + jsonLength);
        List<Manifest.VolumeEntry> volumes = new ArrayList<>();
        byte[] id = new byte[ChunkId.BYTES];
        for (VolumeHeader v : header.volumes()) {
            if (v.chunkCount() < 0 || v.chunkCount() * ENTRY_BYTES > buf.remaining()) {
                throw new CorruptObjectException(
                        key + ": volume " + v.name() + " claims " + v.chunkCount() + " chunks");
            }
            List<Manifest.ChunkRef> chunks = new ArrayList<>((int) v.chunkCount());
            long previous = -1;
            long limit = (v.sizeBytes() + v.chunkSizeBytes() - 1) / v.chunkSizeBytes();
            for (long i = 0; i < v.chunkCount(); i++) {
                long index = buf.getLong();
                buf.get(id);
                if (index <= previous || index >= limit) {
                    throw new CorruptObjectException(key + ": volume " + v.name() + " chunk index " + index
                            + " out of order or past the volume's " + limit + " chunks");
                }
                previous = index;
                chunks.add(new Manifest.ChunkRef(index, ChunkId.read(id, 0)));
            }
            volumes.add(new Manifest.VolumeEntry(v.name(), v.volumeId(), v.epoch(), v.sizeBytes(), v.chunkSizeBytes(),
                    chunks));
        }
        if (buf.hasRemaining()) {
            throw new CorruptObjectException(key + ": " + buf.remaining() + " bytes after the chunk tables");
        }
        return new Manifest(header.snapshotId(), header.group(), header.label(), header.createdAtMillis(),
                header.freezeMicros(), header.sourceGateway(), header.exportedAtMillis(),
                header.parentSnapshotId() == null ? 0 : header.parentSnapshotId(), volumes);
    }

    private static byte[] sha256(byte[] src, int length) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(src, 0, length);
            return md.digest();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}

package cgw.backup;

import java.util.Arrays;
import java.util.HexFormat;

/**
 * The name of a chunk: the SHA-256 of its plaintext, or in an encrypted repository its
 * HMAC-SHA256 under a key derived from the master key. Immutable.
 */
public final class ChunkId implements Comparable<ChunkId> {
    public static final int BYTES = 32;
    static final String PREFIX = "chunks/";
    private static final HexFormat HEX = HexFormat.of();

    private final byte[] bytes;
    private final int hash;

    private ChunkId(byte[] bytes) {
        this.bytes = bytes;
        // the bytes are a cryptographic hash: any four of them are a fine hash code
        this.hash = (bytes[0] & 0xff) << 24 | (bytes[1] & 0xff) << 16 | (bytes[2] & 0xff) << 8 | (bytes[3] & 0xff);
    }

    /** Takes ownership of {@code bytes}. */
    static ChunkId wrap(byte[] bytes) {
        if (bytes.length != BYTES) {
            throw new IllegalArgumentException("a chunk id has " + BYTES + " bytes, got " + bytes.length);
        }
        return new ChunkId(bytes);
    }

    static ChunkId read(byte[] src, int offset) {
        return new ChunkId(Arrays.copyOfRange(src, offset, offset + BYTES));
    }

    public static ChunkId fromHex(String hex) {
        if (hex.length() != 2 * BYTES) {
            throw new IllegalArgumentException("a chunk id is " + 2 * BYTES + " hex digits, got " + hex);
        }
        return new ChunkId(HEX.parseHex(hex));
    }

    /** The chunk whose object key this is, or null when the key is not a chunk's. */
    static ChunkId fromObjectKey(String key) {
        int slash = key.lastIndexOf('/');
        String hex = key.substring(slash + 1);
        if (!key.startsWith(PREFIX) || hex.length() != 2 * BYTES || !key.equals(objectKey(hex))) {
            return null;
        }
        try {
            return fromHex(hex);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    void writeTo(byte[] dst, int offset) {
        System.arraycopy(bytes, 0, dst, offset, BYTES);
    }

    public String hex() {
        return HEX.formatHex(bytes);
    }

    /** {@code chunks/ab/abcdef...}: 256 directories keep a local repository's directories small. */
    public String objectKey() {
        return objectKey(hex());
    }

    private static String objectKey(String hex) {
        return PREFIX + hex.substring(0, 2) + "/" + hex;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ChunkId other && hash == other.hash && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return hash;
    }

    @Override
    public int compareTo(ChunkId o) {
        return Arrays.compareUnsigned(bytes, o.bytes);
    }

    @Override
    public String toString() {
        return hex();
    }
}

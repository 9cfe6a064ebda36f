package cgw.backup;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The byte layout of every chunk and manifest object:
 *
 * <pre>
 *  0        1        2                        2 + N
 *  +--------+--------+------------------------+
 *  | format | flags  | body (N bytes)         |
 *  +--------+--------+------------------------+
 *  body, not encrypted:  payload
 *  body, encrypted:      nonce (12) | AES-256-GCM(payload) | tag (16)
 *                        AAD = format | flags | UTF-8 object key
 *  payload:              zstd frame (flag COMPRESSED, frame content size set) or the raw bytes
 * </pre>
 *
 * The AAD binds a sealed object to its key and header, so an object copied under another name, or
 * with its flags changed, fails to authenticate. Stateless apart from the keys: safe from any thread.
 */
final class ObjectCodec {
    static final byte FORMAT = 1;
    static final int HEADER_BYTES = 2;
    static final int FLAG_COMPRESSED = 1;
    static final int FLAG_ENCRYPTED = 2;

    private final RepositoryKeys keys;

    ObjectCodec(RepositoryKeys keys) {
        this.keys = keys;
    }

    /**
     * Encodes {@code src[offset, offset + length)} as the object {@code key}: compressed when that
     * makes it smaller, sealed when the repository is encrypted.
     */
    byte[] encode(String key, byte[] src, int offset, int length, int zstdLevel) {
        byte[] compressed = new byte[(int) Zstd.compressBound(length)];
        long size = Zstd.compressByteArray(compressed, 0, compressed.length, src, offset, length, zstdLevel);
        boolean compress = size < length;
        int flags = (compress ? FLAG_COMPRESSED : 0) | (keys.encrypted() ? FLAG_ENCRYPTED : 0);
        byte[] payload = compress ? compressed : src;
        int payloadOffset = compress ? 0 : offset;
        int payloadLength = compress ? (int) size : length;
        if (keys.encrypted()) {
            byte[] sealed = keys.seal(aad(key, flags), payload, payloadOffset, payloadLength);
            byte[] out = new byte[HEADER_BYTES + sealed.length];
            header(out, flags);
            System.arraycopy(sealed, 0, out, HEADER_BYTES, sealed.length);
            return out;
        }
        byte[] out = new byte[HEADER_BYTES + payloadLength];
        header(out, flags);
        System.arraycopy(payload, payloadOffset, out, HEADER_BYTES, payloadLength);
        return out;
    }

    /** The plaintext of object {@code key}; {@link CorruptObjectException} when it does not decode. */
    byte[] decode(String key, byte[] stored, long maxPlainBytes) {
        if (stored.length < HEADER_BYTES || stored[0] != FORMAT) {
            throw new CorruptObjectException(key + ": not an object of format " + FORMAT);
        }
        int flags = stored[1] & 0xff;
        if ((flags & ~(FLAG_COMPRESSED | FLAG_ENCRYPTED)) != 0) {
            throw new CorruptObjectException(key + ": unknown flags " + flags);
        }
        if (((flags & FLAG_ENCRYPTED) != 0) != keys.encrypted()) {
            throw new CorruptObjectException(key + (keys.encrypted() ? ": not encrypted in an encrypted repository"
                    : ": encrypted in an unencrypted repository"));
        }
        byte[] payload = keys.encrypted()
                ? keys.open(aad(key, flags), Arrays.copyOfRange(stored, HEADER_BYTES, stored.length), key)
                : Arrays.copyOfRange(stored, HEADER_BYTES, stored.length);
        if ((flags & FLAG_COMPRESSED) == 0) {
            checkSize(key, payload.length, maxPlainBytes);
            return payload;
        }
        long size = Zstd.getFrameContentSize(payload);
        if (size < 0) {
            throw new CorruptObjectException(key + ": not a zstd frame with its content size");
        }
        checkSize(key, size, maxPlainBytes);
        try {
            byte[] plain = Zstd.decompress(payload, (int) size);
            if (plain.length != size) {
                throw new CorruptObjectException(key + ": zstd frame holds " + plain.length + " bytes, says " + size);
            }
            return plain;
        } catch (ZstdException e) {
            throw new CorruptObjectException(key + ": zstd: " + e.getMessage(), e);
        }
    }

    private static void checkSize(String key, long size, long maxPlainBytes) {
        if (size > maxPlainBytes) {
            throw new CorruptObjectException(key + ": " + size + " bytes, more than the " + maxPlainBytes + " allowed");
        }
    }

    private static void header(byte[] out, int flags) {
        out[0] = FORMAT;
        out[1] = (byte) flags;
    }

    private static byte[] aad(String key, int flags) {
        byte[] name = key.getBytes(StandardCharsets.UTF_8);
        byte[] aad = new byte[HEADER_BYTES + name.length];
        header(aad, flags);
        System.arraycopy(name, 0, aad, HEADER_BYTES, name.length);
        return aad;
    }
}

package cgw.backup;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;

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
 * with its flags changed, fails to authenticate. Safe from any thread: zstd contexts (native
 * memory, too costly to create per chunk) and compression buffers are pooled, a thread
 * borrowing one for a call; {@link #close} frees them.
 */
final class ObjectCodec implements AutoCloseable {
    static final byte FORMAT = 1;
    static final int HEADER_BYTES = 2;
    static final int FLAG_COMPRESSED = 1;
    static final int FLAG_ENCRYPTED = 2;
    /** Header, nonce and tag, rounded up: what an object may hold beyond its plaintext. */
    private static final int MAX_ENVELOPE_BYTES = 64;

    private final RepositoryKeys keys;
    private final ConcurrentLinkedQueue<Compressor> compressors = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<ZstdDecompressCtx> decompressors = new ConcurrentLinkedQueue<>();

    /** A zstd context and an output buffer that grows to the largest bound it has seen. */
    private static final class Compressor {
        final ZstdCompressCtx ctx = new ZstdCompressCtx().setContentSize(true).setChecksum(false);
        int level = -1;
        byte[] out = new byte[0];
    }

    ObjectCodec(RepositoryKeys keys) {
        this.keys = keys;
    }

    /**
     * Encodes {@code src[offset, offset + length)} as the object {@code key}: compressed when that
     * makes it smaller, sealed when the repository is encrypted.
     */
    byte[] encode(String key, byte[] src, int offset, int length, int zstdLevel) {
        Compressor compressor = compressors.poll();
        if (compressor == null) {
            compressor = new Compressor();
        }
        try {
            int bound = (int) Zstd.compressBound(length);
            if (compressor.out.length < bound) {
                compressor.out = new byte[bound];
            }
            if (compressor.level != zstdLevel) {
                compressor.ctx.setLevel(zstdLevel);
                compressor.level = zstdLevel;
            }
            int size = compressor.ctx.compressByteArray(compressor.out, 0, bound, src, offset, length);
            boolean compress = size < length;
            int flags = (compress ? FLAG_COMPRESSED : 0) | (keys.encrypted() ? FLAG_ENCRYPTED : 0);
            byte[] payload = compress ? compressor.out : src;
            int payloadOffset = compress ? 0 : offset;
            int payloadLength = compress ? size : length;
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
        } finally {
            compressors.add(compressor);
        }
    }

    /** The plaintext of object {@code key}; {@link CorruptObjectException} when it does not decode. */
    byte[] decode(String key, byte[] stored, long maxPlainBytes) {
        ByteBuffer plain = decodeView(key, ByteBuffer.wrap(stored), maxPlainBytes);
        int from = plain.arrayOffset() + plain.position();
        return from == 0 && plain.remaining() == plain.array().length
                ? plain.array()
                : Arrays.copyOfRange(plain.array(), from, from + plain.remaining());
    }

    /**
     * As {@link #decode}, of the object's bytes in {@code stored} (a heap buffer, position to
     * limit), as a heap buffer over the plaintext: over {@code stored}'s own array when the object
     * is neither compressed nor sealed, so that a chunk of random data (stored as it is) costs no
     * copy and no garbage (a restore reads tens of thousands a second).
     */
    ByteBuffer decodeView(String key, ByteBuffer stored, long maxPlainBytes) {
        byte[] array = stored.array();
        int start = stored.arrayOffset() + stored.position();
        int end = start + stored.remaining();
        if (end - start < HEADER_BYTES || array[start] != FORMAT) {
            throw new CorruptObjectException(key + ": not an object of format " + FORMAT);
        }
        int flags = array[start + 1] & 0xff;
        if ((flags & ~(FLAG_COMPRESSED | FLAG_ENCRYPTED)) != 0) {
            throw new CorruptObjectException(key + ": unknown flags " + flags);
        }
        if (((flags & FLAG_ENCRYPTED) != 0) != keys.encrypted()) {
            throw new CorruptObjectException(key + (keys.encrypted()
                    ? ": not encrypted in an encrypted repository"
                    : ": encrypted in an unencrypted repository"));
        }
        byte[] payload = array;
        int offset = start + HEADER_BYTES;
        int length = end - offset;
        if (keys.encrypted()) {
            payload = keys.open(aad(key, flags), Arrays.copyOfRange(array, offset, end), key);
            offset = 0;
            length = payload.length;
        }
        if ((flags & FLAG_COMPRESSED) == 0) {
            checkSize(key, length, maxPlainBytes);
            return ByteBuffer.wrap(payload, offset, length);
        }
        // zstd-jni indexes the first byte of what it is given, so an empty payload is not asked
        long size = length == 0 ? -1 : Zstd.getFrameContentSize(payload, offset, length);
        if (size < 0) {
            throw new CorruptObjectException(key + ": not a zstd frame with its content size");
        }
        checkSize(key, size, maxPlainBytes);
        ZstdDecompressCtx ctx = decompressors.poll();
        if (ctx == null) {
            ctx = new ZstdDecompressCtx();
        }
        try {
            byte[] plain = new byte[(int) size];
            int got = ctx.decompressByteArray(plain, 0, plain.length, payload, offset, length);
            if (got != size) {
                throw new CorruptObjectException(key + ": zstd frame holds " + got + " bytes, says " + size);
            }
            return ByteBuffer.wrap(plain);
        } catch (ZstdException e) {
            throw new CorruptObjectException(key + ": zstd: " + e.getMessage(), e);
        } finally {
            ctx.reset();
            decompressors.add(ctx);
        }
    }

    /** Frees the pooled zstd contexts; the repository calls it once no job uses it. */
    @Override
    public void close() {
        for (Compressor c; (c = compressors.poll()) != null;) {
            c.ctx.close();
        }
        for (ZstdDecompressCtx d; (d = decompressors.poll()) != null;) {
            d.close();
        }
    }

    /**
     * The most bytes an object of at most {@code maxPlainBytes} of plaintext is stored in (it is
     * compressed only when that makes it smaller), checked before it is read.
     */
    static long maxStoredBytes(long maxPlainBytes) {
        return maxPlainBytes + MAX_ENVELOPE_BYTES;
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

package cgw.replication;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The binary bodies of {@code POST /v1/replication/{group}/epochs/current/blocks}: records of
 * what a range of a volume holds at the shipped epoch, at most {@link #MAX_RAW_BYTES} of them per
 * body, zstd-compressed unless that does not shrink them.
 *
 * <pre>
 *   body:    "CGWB" | encoding u8 (0 raw, 1 zstd) | raw length u32 | CRC32C of raw u32
 *            | generation u64 | origin snapshot u64 | payload
 *   raw:     record*
 *   record:  kind u8 (1 data, 2 zeroes, 3 trim) | volume index u16 | offset u64 | length u32
 *            | length bytes (data only)
 * </pre>
 *
 * The volume index points into the epoch's volume list (its {@code begin}). The CRC covers the
 * bytes end to end, past what TCP's checksum and a proxy could let through.
 */
final class BlockBodies {
    /** The REST server's body limit is 1 MiB; a body is at most its raw bytes plus the header. */
    static final int MAX_RAW_BYTES = (1 << 20) - 256;
    static final int HEADER_BYTES = 4 + 1 + 4 + 4 + 8 + 8;
    static final int RECORD_HEADER_BYTES = 1 + 2 + 8 + 4;
    /** The longest body: raw records that zstd could not shrink, or their bound compressed. */
    static final int MAX_BODY_BYTES = HEADER_BYTES + (int) Zstd.compressBound(MAX_RAW_BYTES);
    private static final int MAGIC = 0x43475742; // "CGWB"
    private static final byte RAW = 0;
    private static final byte ZSTD = 1;

    /** What a record says about a range. */
    enum Kind {
        DATA(1),
        ZEROES(2),
        TRIM(3);

        final byte code;

        Kind(int code) {
            this.code = (byte) code;
        }

        static Kind of(byte code) {
            for (Kind kind : values()) {
                if (kind.code == code) {
                    return kind;
                }
            }
            throw new MalformedBodyException("unknown record kind " + code);
        }
    }

    /** A packed body: the first {@code length} bytes of {@code array}. */
    record Body(byte[] array, int length) {
    }

    /** A body that cannot be read: truncated, corrupted, or not one of ours. */
    static final class MalformedBodyException extends RuntimeException {
        MalformedBodyException(String message) {
            super(message);
        }
    }

    /** Per applying thread, what a body decompresses to; its records are read before the next body. */
    private static final ThreadLocal<byte[]> DECOMPRESSED = ThreadLocal.withInitial(() -> new byte[MAX_RAW_BYTES]);

    private BlockBodies() {
    }

    /**
     * Fills bodies with records, one at a time. Compresses with one zstd context and output buffer
     * for all of them; after a body that zstd could not shrink by {@link #WORTH_IT}, the next
     * {@link #SKIP_AFTER_MISS} go raw without trying (random data: the try costs CPU for nothing).
     * Threads: one. Close it to free the zstd context.
     */
    static final class Builder implements AutoCloseable {
        static final double WORTH_IT = 0.95;
        static final int SKIP_AFTER_MISS = 8;
        private final ByteBuffer raw = ByteBuffer.allocate(MAX_RAW_BYTES);
        private final ZstdCompressCtx zstd;
        private long dataBytes;
        private int skipping;
        private int level;

        private final BodyBuffers buffers;

        /**
         * @param level zstd's, {@link CompressionLevel#LEVELS}
         * @param buffers where the bodies are packed into
         */
        Builder(int level, BodyBuffers buffers) {
            this.buffers = buffers;
            this.level = level;
            zstd = new ZstdCompressCtx().setLevel(level);
        }

        /** The zstd level of the bodies from the next {@link #finish} on. */
        void level(int level) {
            if (level != this.level) {
                zstd.setLevel(level);
                this.level = level;
            }
        }

        /** Block bytes room for one more data record, 0 when none fits. */
        int dataRoom() {
            return Math.max(0, raw.remaining() - RECORD_HEADER_BYTES);
        }

        boolean isEmpty() {
            return raw.position() == 0;
        }

        /** Bytes of the ranges the records describe, data or not. */
        long describedBytes() {
            return dataBytes;
        }

        /** Adds a record; for data, {@code data} holds exactly {@code length} bytes and is consumed. */
        void add(Kind kind, int volume, long offset, int length, ByteBuffer data) {
            int needed = RECORD_HEADER_BYTES + (kind == Kind.DATA ? length : 0);
            if (needed > raw.remaining()) {
                throw new IllegalStateException("record of " + length + " bytes does not fit; check dataRoom()");
            }
            raw.put(kind.code).putShort((short) volume).putLong(offset).putInt(length);
            if (kind == Kind.DATA) {
                raw.put(data);
            }
            dataBytes += length;
        }

        /** The body of the records so far, in an array of {@code buffers}; empties the builder. */
        Body finish(long generation, long originSnapshot) {
            byte[] array = buffers.take();
            int rawLength = raw.position();
            CRC32C crc = new CRC32C();
            crc.update(raw.array(), 0, rawLength);
            int packedLength = Integer.MAX_VALUE;
            if (skipping > 0) {
                skipping--;
            } else {
                packedLength = zstd.compressByteArray(array, HEADER_BYTES, array.length - HEADER_BYTES, raw.array(), 0,
                        rawLength);
                if (packedLength > rawLength * WORTH_IT) {
                    skipping = SKIP_AFTER_MISS;
                }
            }
            boolean useZstd = packedLength < rawLength;
            int payload = useZstd ? packedLength : rawLength;
            ByteBuffer body = ByteBuffer.wrap(array);
            body.putInt(MAGIC).put(useZstd ? ZSTD : RAW).putInt(rawLength).putInt((int) crc.getValue())
                    .putLong(generation).putLong(originSnapshot);
            if (!useZstd) {
                body.put(raw.array(), 0, payload);
            }
            raw.clear();
            dataBytes = 0;
            return new Body(array, HEADER_BYTES + payload);
        }

        @Override
        public void close() {
            zstd.close();
        }
    }

    /** Told each record of a body in order; a record's data is valid only until the call returns. */
    interface Visitor {
        void record(Kind kind, int volume, long offset, int length, ByteBuffer data);
    }

    /** The header of a body; {@link #records} reads the rest. */
    record Header(long generation, long originSnapshot) {
    }

    static Header header(byte[] body) {
        if (body.length < HEADER_BYTES) {
            throw new MalformedBodyException("the block body is shorter than its header");
        }
        ByteBuffer in = ByteBuffer.wrap(body);
        if (in.getInt() != MAGIC) {
            throw new MalformedBodyException("not a block body of cgw replication");
        }
        in.position(4 + 1 + 4 + 4);
        return new Header(in.getLong(), in.getLong());
    }

    /** Checks a body whole (CRC, record bounds) before telling {@code visitor} of any record. */
    static void records(byte[] body, Visitor visitor) {
        ByteBuffer raw = decode(body);
        ByteBuffer check = raw.duplicate();
        while (check.hasRemaining()) {
            readRecord(check, (kind, volume, offset, length, data) -> {
            });
        }
        while (raw.hasRemaining()) {
            readRecord(raw, visitor);
        }
    }

    private static ByteBuffer decode(byte[] body) {
        header(body);
        ByteBuffer in = ByteBuffer.wrap(body);
        in.position(4);
        byte encoding = in.get();
        int rawLength = in.getInt();
        int expectedCrc = in.getInt();
        if (rawLength < 0 || rawLength > MAX_RAW_BYTES) {
            throw new MalformedBodyException("a block body claims " + rawLength + " raw bytes");
        }
        if (encoding == RAW) {
            if (body.length - HEADER_BYTES != rawLength) {
                throw new MalformedBodyException("a raw block body has " + (body.length - HEADER_BYTES)
                        + " bytes, its header says " + rawLength);
            }
            return checked(ByteBuffer.wrap(body, HEADER_BYTES, rawLength).slice(), expectedCrc);
        } else if (encoding == ZSTD) {
            byte[] raw = DECOMPRESSED.get(); // reused: a new megabyte per body is a humongous allocation for the GC
            long got;
            try {
                got = Zstd.decompressByteArray(raw, 0, rawLength, body, HEADER_BYTES, body.length - HEADER_BYTES);
            } catch (RuntimeException e) {
                throw new MalformedBodyException("a block body does not decompress: " + e.getMessage());
            }
            if (got != rawLength) {
                throw new MalformedBodyException("a block body decompressed to " + got + " bytes, not " + rawLength);
            }
            return checked(ByteBuffer.wrap(raw, 0, rawLength).slice(), expectedCrc);
        }
        throw new MalformedBodyException("unknown block body encoding " + encoding);
    }

    private static ByteBuffer checked(ByteBuffer raw, int expectedCrc) {
        CRC32C crc = new CRC32C();
        crc.update(raw.duplicate());
        if ((int) crc.getValue() != expectedCrc) {
            throw new MalformedBodyException("a block body fails its CRC: corrupted on the way");
        }
        return raw;
    }

    private static void readRecord(ByteBuffer in, Visitor visitor) {
        if (in.remaining() < RECORD_HEADER_BYTES) {
            throw new MalformedBodyException("a block record is cut short");
        }
        Kind kind = Kind.of(in.get());
        int volume = Short.toUnsignedInt(in.getShort());
        long offset = in.getLong();
        int length = in.getInt();
        if (offset < 0 || length <= 0) {
            throw new MalformedBodyException("a block record has offset " + offset + " and length " + length);
        }
        ByteBuffer data = ByteBuffer.allocate(0);
        if (kind == Kind.DATA) {
            if (in.remaining() < length) {
                throw new MalformedBodyException("a data record of " + length + " bytes is cut short");
            }
            data = in.slice(in.position(), length);
            in.position(in.position() + length);
        }
        visitor.record(kind, volume, offset, length, data);
    }
}

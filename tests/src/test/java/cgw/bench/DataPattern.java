package cgw.bench;

import java.nio.ByteBuffer;
import java.util.Random;

/**
 * The bytes every benchmark writes: 1 MiB of seeded random data repeated over the whole device,
 * so that byte {@code x} holds {@code pattern[x mod 1 MiB]}. Random, so neither the store's
 * all-zero detection nor LZ4 makes it smaller than a guest's data; handed out as ready slices, so
 * a write costs no copy, exactly as for the peer. Reads are checked against it.
 *
 * <p>Threads: one instance per thread. The slices are views of one shared read-only buffer, but a
 * FileChannel write moves a slice's position, so slices are never shared.
 */
final class DataPattern {
    static final int LENGTH_BYTES = 1 << 20;
    private static final long SEED = 0x5EED_C0FFEEL;
    private static final ByteBuffer PATTERN = generate();

    private final int ioSizeBytes;
    private final ByteBuffer[] slices;

    /** Slices for I/O of {@code ioSizeBytes} at offsets aligned to it. */
    DataPattern(int ioSizeBytes) {
        if (ioSizeBytes <= 0 || LENGTH_BYTES % ioSizeBytes != 0) {
            throw new IllegalArgumentException("ioSizeBytes must divide " + LENGTH_BYTES + ", got " + ioSizeBytes);
        }
        this.ioSizeBytes = ioSizeBytes;
        this.slices = new ByteBuffer[LENGTH_BYTES / ioSizeBytes];
        for (int i = 0; i < slices.length; i++) {
            slices[i] = PATTERN.slice(i * ioSizeBytes, ioSizeBytes);
        }
    }

    /** The bytes that belong at {@code offset} (a multiple of the I/O size), position 0. */
    ByteBuffer at(long offset) {
        ByteBuffer slice = slices[(int) ((offset & (LENGTH_BYTES - 1)) / ioSizeBytes)];
        slice.clear();
        return slice;
    }

    /** The offset of the first byte of {@code data[0, length)} that differs from the pattern at {@code offset}, or -1. */
    static long mismatch(ByteBuffer data, long offset, int length) {
        for (int done = 0; done < length;) {
            int at = (int) ((offset + done) & (LENGTH_BYTES - 1));
            int n = Math.min(length - done, LENGTH_BYTES - at);
            int differs = data.slice(done, n).mismatch(PATTERN.slice(at, n));
            if (differs >= 0) {
                return offset + done + differs;
            }
            done += n;
        }
        return -1;
    }

    private static ByteBuffer generate() {
        byte[] bytes = new byte[LENGTH_BYTES];
        new Random(SEED).nextBytes(bytes);
        return ByteBuffer.allocateDirect(LENGTH_BYTES).put(bytes).flip().asReadOnlyBuffer();
    }
}

package cgw.store;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The CRC32C of block data, computed without allocating, and the check of a block read from the
 * value log against its pointer's CRCs. Any thread; each uses its own {@link CRC32C}.
 */
final class Checksums {
    /** Per thread: a CRC32C for {@link #crc32c(CRC32C, ByteBuffer, int, int)}, looked up once per read. */
    private static final ThreadLocal<CRC32C> CRCS = ThreadLocal.withInitial(CRC32C::new);

    private Checksums() {
    }

    /** This thread's CRC32C. */
    static CRC32C threadCrc() {
        return CRCS.get();
    }

    /**
     * The CRC32C of {@code data}'s remaining bytes, through a duplicate, so that {@code data} may be
     * shared with other threads (the zero block); reads and writes use the allocation-free
     * {@link #crc32c(CRC32C, ByteBuffer, int, int)} on their own buffers.
     */
    static int crc32c(ByteBuffer data) {
        CRC32C crc = new CRC32C();
        crc.update(data.duplicate());
        return (int) crc.getValue();
    }

    /**
     * The CRC32C of {@code length} bytes of {@code data} from index {@code at}, computed with
     * {@code crc} (reset first) and allocating nothing, unlike {@link #crc32c(ByteBuffer)}: a 1 MiB
     * read checks 256 blocks, on an event loop when served there. It moves {@code data}'s position
     * and limit meanwhile, so only for a buffer no other thread uses (not the zero block); they
     * are left as they were.
     */
    static int crc32c(CRC32C crc, ByteBuffer data, int at, int length) {
        int position = data.position();
        int limit = data.limit();
        crc.reset();
        crc.update(data.limit(at + length).position(at));
        data.limit(limit).position(position);
        return (int) crc.getValue();
    }

    /** {@link #crc32c(CRC32C, ByteBuffer, int, int)} of {@code data}'s remaining bytes. */
    static int crc32c(CRC32C crc, ByteBuffer data) {
        return crc32c(crc, data, data.position(), data.remaining());
    }

    /** The error of a block whose bytes, of CRC {@code actual}, match neither of its CRCs. */
    static ChecksumMismatch mismatch(int actual, int expected, int previous, int segment, long position) {
        return new ChecksumMismatch("block data at " + position + " of value log segment " + segment
                + " fails its checksum (crc32c " + Integer.toHexString(actual) + ", expected "
                + Integer.toHexString(expected) + (previous != expected ? " or " + Integer.toHexString(previous) : "")
                + ")");
    }
}

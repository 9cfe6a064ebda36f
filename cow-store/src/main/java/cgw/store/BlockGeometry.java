package cgw.store;

import java.nio.ByteBuffer;

/**
 * The block size of a store and what follows from it: the shift from bytes to block indexes and
 * the zero block a write compares its data with. Immutable; shared by every thread.
 */
final class BlockGeometry {
    final int blockSize;
    final int blockShift;
    /** A read-only block of zeros; never read through its own position (see {@link Checksums#crc32c(ByteBuffer)}). */
    final ByteBuffer zeroBlock;
    /** The CRC of {@link #zeroBlock}: a block with another CRC is not all zeros. */
    final int zeroBlockCrc;
    private final byte[] zeros;

    BlockGeometry(int blockSize) {
        this.blockSize = blockSize;
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.zeros = new byte[blockSize];
        this.zeroBlock = ByteBuffer.wrap(zeros).asReadOnlyBuffer();
        this.zeroBlockCrc = Checksums.crc32c(zeroBlock);
    }

    /** Fills {@code out[at, at + length)} with zeros; {@code length} is at most a block. */
    void zero(ByteBuffer out, int at, int length) {
        out.put(at, zeros, 0, length);
    }

    StoreException corruptValue(int size) {
        return new StoreException("corrupt block value of " + size + " bytes (block size " + blockSize + ")");
    }
}

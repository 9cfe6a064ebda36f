package cgw.store;

import cgw.store.key.BlockPointer;
import cgw.store.key.BlockValue;
import cgw.store.key.CrcSlot;
import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;
import org.rocksdb.WriteBatch;

/**
 * Per-thread direct buffers, per-block arrays and a reusable WriteBatch for the write path, so a
 * write allocates nothing; closed with the store. Only the owning thread touches it, except
 * {@link #close}. Arrays are indexed by a block's place among a batch's data blocks.
 */
final class WriteContext {
    private static final int MAX = BlockStore.MAX_BATCH_BLOCKS;

    final WriteBatch batch = new WriteBatch();
    /** The region records the batch changes. */
    final RegionBatch regions;
    final ByteBuffer block;
    /** The last block of a write, when it is read-modify-written too ({@link #block} holds the first). */
    final ByteBuffer lastBlock;
    /** A block read to learn what an overwrite replaces. */
    final ByteBuffer scratch;
    final ByteBuffer pointer = ByteBuffer.allocateDirect(BlockPointer.OVERWRITTEN_LENGTH);
    /** The record of a region looked up to overwrite its blocks in place: key, bytes, decoded. */
    final ByteBuffer foundKey = ByteBuffer.allocateDirect(RegionKey.LENGTH);
    final ByteBuffer foundRecord = ByteBuffer.allocateDirect(RegionRecord.MAX_LENGTH);
    final RegionRecord found;
    /** The partial blocks of one batch on their way to the value log (whole ones are read from the source). */
    final ByteBuffer[] values = new ByteBuffer[MAX];
    final int[] sourceIndex = new int[MAX];
    final long[] blocks = new long[MAX];
    /** Per data block: its index among the appended blocks, or -1 when overwritten in place ... */
    final int[] slot = new int[MAX];
    /** ... at this segment and position, whose bytes have this CRC now. */
    final int[] targetSegment = new int[MAX];
    final long[] targetPosition = new long[MAX];
    final int[] previousCrc = new int[MAX];
    /** Per data block overwritten in place: its pointer's or table slot's CRC, previous CRC and session. */
    final int[] crcNow = new int[MAX];
    final int[] crcBefore = new int[MAX];
    final int[] writtenIn = new int[MAX];
    /** The known runs of a batch's groups ({@link InPlaceOverwrites#knownRuns}). */
    final PointerCache.Run[] runs = new PointerCache.Run[MAX / PointerCache.RUN_BLOCKS];
    /** CRC table slots read for the blocks overwritten in place. */
    final ByteBuffer tableSlots = ByteBuffer.allocateDirect(MAX * CrcSlot.LENGTH);
    /** Per data block: the CRC of its new bytes. */
    final int[] newCrc = new int[MAX];
    /** Per data block overwritten in place: whether its pointer keeps its CRCs in the segment's table already. */
    final boolean[] inTable = new boolean[MAX];
    /** CRC table slots of the blocks overwritten in place, on their way to the tables. */
    final ByteBuffer tableEntries = ByteBuffer.allocateDirect(MAX * CrcSlot.LENGTH);
    /** Per {@link WriteOutcome}: the batch's data blocks {@link InPlaceOverwrites#assignSlots} chose it for. */
    final int[] outcomes = new int[WriteOutcome.values().length];
    private final ByteBuffer zeroMarker = ByteBuffer.allocateDirect(1).put(0, BlockValue.ZERO);
    private final CRC32C crc = new CRC32C();
    private final ByteBuffer holeMarker = ByteBuffer.allocateDirect(1).put(0, BlockValue.HOLE);

    WriteContext(int blockSize) {
        block = ByteBuffer.allocateDirect(blockSize);
        lastBlock = ByteBuffer.allocateDirect(blockSize);
        scratch = ByteBuffer.allocateDirect(blockSize);
        regions = new RegionBatch(Integer.numberOfTrailingZeros(blockSize));
        found = new RegionRecord(Integer.numberOfTrailingZeros(blockSize));
    }

    /** The CRC32C of {@code data}'s remaining bytes, which are left as they were; allocates nothing. */
    int crc32c(ByteBuffer data) {
        return Checksums.crc32c(crc, data);
    }

    /** The CRC32C of {@code length} bytes of {@code data} from index {@code at}; allocates nothing. */
    int crc32c(ByteBuffer data, int at, int length) {
        return Checksums.crc32c(crc, data, at, length);
    }

    ByteBuffer marker(byte kind) {
        ByteBuffer marker = kind == BlockValue.HOLE ? holeMarker : zeroMarker;
        marker.clear();
        return marker;
    }

    void clearBatch() {
        batch.clear();
    }

    void close() {
        batch.close();
    }
}

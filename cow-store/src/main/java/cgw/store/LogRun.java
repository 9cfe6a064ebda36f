package cgw.store;

import cgw.store.key.CrcSlot;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * Whole blocks of one read that lie back to back in one value-log segment and in the output
 * buffer, read with one {@code pread} and checked block by block. One thread (the reader's).
 */
final class LogRun {
    private final PointerReads pointers;
    private final ByteBuffer out;
    private final int blockShift;
    private final CRC32C crc = Checksums.threadCrc();
    private int segment;
    private long position;
    private int at;
    private int blocks;
    private int[] crcs = new int[16];
    private int[] previousCrcs = new int[16];
    private boolean[] inTable = new boolean[16];
    private int tableBlocks;
    /** Runs read so far: one {@code pread} each. */
    int reads;

    LogRun(PointerReads pointers, ByteBuffer out, int blockShift) {
        this.pointers = pointers;
        this.out = out;
        this.blockShift = blockShift;
    }

    private boolean continuedBy(int nextSegment, long nextPosition, int nextAt) {
        long length = (long) blocks << blockShift;
        return blocks == 0 || nextSegment == segment && nextPosition == position + length && nextAt == at + length;
    }

    /**
     * Adds the next block, reading the run so far first when the block does not continue it;
     * {@code fromTable}: its CRCs are in the segment's table, not given.
     */
    void add(int nextSegment, long nextPosition, int nextAt, int crc, int previousCrc, boolean fromTable) {
        if (!continuedBy(nextSegment, nextPosition, nextAt)) {
            read();
        }
        if (blocks == 0) {
            segment = nextSegment;
            position = nextPosition;
            at = nextAt;
        }
        if (blocks == crcs.length) {
            crcs = Arrays.copyOf(crcs, blocks * 2);
            previousCrcs = Arrays.copyOf(previousCrcs, blocks * 2);
            inTable = Arrays.copyOf(inTable, blocks * 2);
        }
        previousCrcs[blocks] = previousCrc;
        inTable[blocks] = fromTable;
        tableBlocks += fromTable ? 1 : 0;
        crcs[blocks++] = crc;
    }

    /** Reads the run into the output and checks every block's checksum; the run is empty after. */
    void read() {
        if (blocks == 0) {
            return;
        }
        if (tableBlocks > 0) {
            // the table slots, read before the bytes (see InPlaceOverwrites.writeTables)
            ByteBuffer slots = ByteBuffer.allocate(blocks * CrcSlot.LENGTH);
            int first = pointers.readTableSpan(segment, position >>> blockShift, inTable, 0, blocks, slots);
            for (int i = first; i < blocks; i++) {
                if (inTable[i]) {
                    crcs[i] = CrcSlot.crc(slots, i - first);
                    previousCrcs[i] = CrcSlot.previousCrc(slots, i - first);
                }
            }
            tableBlocks = 0;
        }
        pointers.valueLog().read(segment, position, out.slice(at, blocks << blockShift));
        reads++;
        int blockSize = 1 << blockShift;
        for (int i = 0; i < blocks; i++) {
            long blockPosition = position + ((long) i << blockShift);
            int actual = Checksums.crc32c(crc, out, at + (i << blockShift), blockSize);
            if (actual != crcs[i] && actual != previousCrcs[i]
                    && (inTable[i] || !pointers.overwrittenTo(segment, blockPosition, actual))) {
                throw Checksums.mismatch(actual, crcs[i], previousCrcs[i], segment, blockPosition);
            }
        }
        blocks = 0;
    }
}

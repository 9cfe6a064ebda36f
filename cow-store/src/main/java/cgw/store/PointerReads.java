package cgw.store;

import cgw.store.key.BlockPointer;
import cgw.store.key.CrcSlot;
import java.nio.ByteBuffer;

/**
 * Follows block pointers into the {@link ValueLog}: reads the bytes a pointer leads to and checks
 * them against its CRCs, which the pointer carries or its segment's CRC table holds. Callers hold
 * the value log's read lock. Any thread.
 */
final class PointerReads {
    private final ValueLog valueLog;
    private final int blockShift;
    private final ThreadLocal<ByteBuffer> tableSlots = ThreadLocal
            .withInitial(() -> ByteBuffer.allocateDirect(CrcSlot.LENGTH));

    PointerReads(ValueLog valueLog, BlockGeometry geometry) {
        this.valueLog = valueLog;
        this.blockShift = geometry.blockShift;
    }

    int blockShift() {
        return blockShift;
    }

    ValueLog valueLog() {
        return valueLog;
    }

    /**
     * Reads the block the pointer of {@code size} bytes at {@code at} of {@code pointer} leads to
     * into {@code into} (which may overlap the pointer) and checks it; {@code into} is flipped.
     */
    void readPointed(ByteBuffer pointer, int at, int size, ByteBuffer into) {
        readPointed(pointer, at, into, crcs(pointer, at, size), BlockPointer.inTable(size));
    }

    /** {@link #readPointed} with the pointer's {@link #crcs} already looked up. */
    void readPointed(ByteBuffer pointer, int at, ByteBuffer into, long crcs, boolean inTable) {
        int segment = BlockPointer.segment(pointer, at);
        long position = BlockPointer.position(pointer, at);
        valueLog.read(segment, position, into);
        into.flip();
        int actual = Checksums.crc32c(Checksums.threadCrc(), into, into.position(), into.remaining());
        if (actual != (int) (crcs >>> 32) && actual != (int) crcs
                && (inTable || !overwrittenTo(segment, position, actual))) {
            throw Checksums.mismatch(actual, (int) (crcs >>> 32), (int) crcs, segment, position);
        }
    }

    /**
     * Whether a block whose pointer carries its own CRCs was overwritten in place since, to bytes
     * of CRC {@code actual}: its segment's table slot names it. The pointer that says its CRCs are
     * in the table is put after the bytes are overwritten ({@link BlockWriter}), so until then, and
     * for good when a crash comes between, the slot is what tells.
     */
    boolean overwrittenTo(int segment, long position, int actual) {
        ByteBuffer slot = tableSlots.get().clear();
        if (!valueLog.readTableIfPresent(segment, position >>> blockShift, slot)) {
            return false;
        }
        int crc = CrcSlot.crc(slot, 0);
        int previousCrc = CrcSlot.previousCrc(slot, 0);
        return (crc | previousCrc) != 0 && (actual == crc || actual == previousCrc);
    }

    /**
     * The CRC (high half) and previous CRC (low half) of the block a pointer of {@code size} bytes
     * at {@code at} leads to: the pointer's own, or its segment's table slot for the table form.
     */
    long crcs(ByteBuffer pointer, int at, int size) {
        int crc;
        int previousCrc;
        if (BlockPointer.inTable(size)) {
            ByteBuffer slot = tableSlots.get().clear();
            valueLog.readTable(BlockPointer.segment(pointer, at), BlockPointer.position(pointer, at) >>> blockShift,
                    slot);
            crc = CrcSlot.crc(slot, 0);
            previousCrc = CrcSlot.previousCrc(slot, 0);
        } else {
            crc = BlockPointer.crc(pointer, at);
            previousCrc = BlockPointer.previousCrc(pointer, at, size);
        }
        return (long) crc << 32 | (previousCrc & 0xFFFF_FFFFL);
    }

    /**
     * Reads into {@code slots}, with one read, the CRC table slots of the blocks of a run
     * {@code [from, end)} that lie back to back in {@code segment} from slot {@code firstSlot}
     * (block {@code from}'s), from the first to the last block whose CRCs are in the table
     * ({@code inTable}): blocks between them with their own CRCs may have no slot yet, and the
     * table may end before blocks past the last. Block {@code k}'s slot is then slot
     * {@code k - first} of {@code slots}; returns {@code first}, or -1 (nothing read) when no
     * block has one.
     */
    int readTableSpan(int segment, long firstSlot, boolean[] inTable, int from, int end, ByteBuffer slots) {
        int first = from;
        while (first < end && !inTable[first]) {
            first++;
        }
        if (first == end) {
            return -1;
        }
        int last = end - 1;
        while (!inTable[last]) {
            last--;
        }
        slots.clear().limit((last - first + 1) * CrcSlot.LENGTH);
        valueLog.readTable(segment, firstSlot + (first - from), slots);
        return first;
    }

    /** A run of whole blocks of one read into {@code out}, read with one {@code pread}. */
    LogRun newRun(ByteBuffer out) {
        return new LogRun(this, out, blockShift);
    }
}

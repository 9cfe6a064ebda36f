package cgw.store;

import cgw.store.key.BlockPointer;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.rocksdb.AbstractWalFilter;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WalProcessingOption;
import org.rocksdb.WriteBatch;

/**
 * Judges the writes RocksDB replays from its WAL when it opens after a crash or a power cut. The
 * WAL may have reached the disk before the value log bytes its pointers lead to (the kernel writes
 * the WAL back at will, and a flush syncs both side by side), so a replayed pointer past the
 * {@link DurableMark} may lead to bytes that are not there, or to a location overwritten in place
 * whose page and CRC slot reached the disk apart. A batch with such a pointer is dropped whole
 * (its pointers and dirty keys); the blocks it wrote read as they were before it, the version an
 * earlier batch or a table file holds. Every pointer kept reads as the reads check it
 * ({@link PointerReads}). None of this drops a flushed write: a flush froze and synced every
 * location its writes lead to before it returned, so those bytes match, or it synced only the WAL
 * because the batches since the log's last sync carry copies of their bytes ({@link WalCopies}):
 * a pointer whose bytes are not there but in its batch's copy gets them written back.
 *
 * <p>Pointers before the mark are not read: their bytes were synced and never changed after
 * (docs/store.md, "Power cuts"). A store without a mark (an earlier version's) is not checked.
 *
 * <p>Threads: RocksDB's opening thread.
 */
final class ReplayCheck extends AbstractWalFilter {
    static {
        RocksDB.loadLibrary(); // a native object, made before RocksDB is opened
    }

    private final ValueLog valueLog;
    private final DurableMark.@Nullable Stored mark;
    private final @Nullable PointerReads pointers;
    private final ByteBuffer block;
    private final Pointers handler;
    private int blocksFamily = -1;
    /** Format 1's block map, whose values are single versions: replayed before its store is converted. */
    private int legacyFamily = -1;
    private long checked;
    private long restored;
    private long dropped;
    private @Nullable String firstDropped;
    private @Nullable RuntimeException failure;

    ReplayCheck(ValueLog valueLog, DurableMark.@Nullable Stored mark) {
        this.valueLog = valueLog;
        this.mark = mark;
        this.pointers = mark == null ? null : new PointerReads(valueLog, new BlockGeometry(mark.blockSize()));
        this.block = ByteBuffer.allocateDirect(mark == null ? 1 : mark.blockSize());
        this.handler = new Pointers(
                mark == null ? null : new RegionRecord(Integer.numberOfTrailingZeros(mark.blockSize())));
    }

    @Override
    public void columnFamilyLogNumberMap(Map<Integer, Long> logNumbers, Map<String, Integer> familyIds) {
        Integer id = familyIds.get(Rocks.REGIONS);
        blocksFamily = id == null ? -1 : id;
        Integer legacy = familyIds.get(Rocks.LEGACY_BLOCKS);
        legacyFamily = legacy == null ? -1 : legacy;
    }

    @Override
    public LogRecordFoundResult logRecordFound(long logNumber, String logFileName, WriteBatch batch,
            WriteBatch newBatch) {
        if (mark == null || blocksFamily < 0 && legacyFamily < 0 || failure != null) {
            return LogRecordFoundResult.CONTINUE_UNCHANGED;
        }
        try {
            handler.begin();
            batch.iterate(handler);
            handler.restoreFromCopies();
            if (handler.lost == null) {
                return LogRecordFoundResult.CONTINUE_UNCHANGED;
            }
            dropped++;
            if (firstDropped == null) {
                firstDropped = handler.lost + " (WAL " + logFileName + ")";
            }
            return new LogRecordFoundResult(WalProcessingOption.IGNORE_CURRENT_RECORD, false);
        } catch (RocksDBException | RuntimeException e) {
            // thrown into RocksDB's native frame it would be lost: the open fails after it returns
            failure = e instanceof RuntimeException runtime
                    ? runtime
                    : new StoreException("reading a batch of the WAL at open: " + e.getMessage(), e);
            return LogRecordFoundResult.CONTINUE_UNCHANGED;
        }
    }

    @Override
    public String name() {
        return "cgw-replay-check";
    }

    @Override
    public void close() {
        handler.close();
        super.close();
    }

    /** Throws what went wrong while judging, if anything did: the store must not open half-judged. */
    void throwIfFailed() {
        RuntimeException thrown = failure;
        if (thrown != null) {
            throw new StoreException("checking the writes replayed from RocksDB's WAL failed: " + thrown.getMessage(),
                    thrown);
        }
    }

    /** Whether a mark was there to judge by. */
    boolean judged() {
        return mark != null;
    }

    /** Pointers past the mark that were read and checked. */
    long checked() {
        return checked;
    }

    /** Blocks whose bytes were written back from their batch's copy. */
    long restored() {
        return restored;
    }

    /** Batches dropped. */
    long dropped() {
        return dropped;
    }

    /** What the first dropped batch lost, or null. */
    @Nullable
    String firstDropped() {
        return firstDropped;
    }

    /** Whether a pointer of {@code size} bytes replayed into the blocks family reads as a read would check it. */
    private boolean reads(ByteBuffer pointer, int size) {
        int segment = BlockPointer.segment(pointer, 0);
        long position = BlockPointer.position(pointer, 0);
        if (mark == null || pointers == null || mark.through().covers(segment, position)) {
            return true;
        }
        checked++;
        try {
            block.clear();
            valueLog.read(segment, position, block);
            int actual = Checksums.crc32c(Checksums.threadCrc(), block.flip());
            long crcs = pointers.crcs(pointer, 0, size);
            return actual == (int) (crcs >>> 32) || actual == (int) crcs
                    || !BlockPointer.inTable(size) && pointers.overwrittenTo(segment, position, actual);
        } catch (StoreException e) {
            return false; // the segment, its table or the part the pointer leads to is missing
        }
    }

    /**
     * Finds the pointers of a batch that would not read and its copies of log bytes; then writes
     * back what the copies hold and names the first pointer that still does not read.
     */
    private final class Pointers extends WriteBatch.Handler {
        private @Nullable String lost;
        private final @Nullable RegionRecord record;
        private final List<ByteBuffer> unread = new ArrayList<>();
        private final List<WalCopies.Copy> copies = new ArrayList<>();

        Pointers(@Nullable RegionRecord record) {
            this.record = record;
        }

        void begin() {
            lost = null;
            unread.clear();
            copies.clear();
        }

        /** Copies come before the pointers in a batch, but nothing here relies on it. */
        void restoreFromCopies() {
            for (ByteBuffer pointer : unread) {
                if (lost == null && !restore(pointer)) {
                    lost = "block data at " + BlockPointer.position(pointer, 0) + " of value log segment "
                            + BlockPointer.segment(pointer, 0);
                }
            }
        }

        private boolean restore(ByteBuffer pointer) {
            int segment = BlockPointer.segment(pointer, 0);
            long position = BlockPointer.position(pointer, 0);
            for (WalCopies.Copy copy : copies) {
                ByteBuffer bytes = copy.slice(segment, position, block.capacity());
                if (bytes != null && valueLog.restore(segment, position, bytes)
                        && reads(pointer, pointer.remaining())) {
                    restored++;
                    return true;
                }
            }
            return false;
        }

        @Override
        public void put(int family, byte[] key, byte[] value) {
            if (lost != null || record == null) {
                return;
            }
            if (family == legacyFamily) {
                if (BlockPointer.isPointer(value.length)) {
                    judge(ByteBuffer.wrap(value), value.length);
                }
                return;
            }
            if (family != blocksFamily) {
                return;
            }
            try {
                record.decode(ByteBuffer.wrap(value));
            } catch (IllegalArgumentException e) {
                lost = "an unreadable region record: " + e.getMessage();
                return;
            }
            for (int slot = 0; slot < RegionRecord.SLOTS && lost == null; slot++) {
                if (!record.has(slot)) {
                    continue;
                }
                ByteBuffer pointer = record.value(slot);
                int size = pointer.remaining();
                if (BlockPointer.isPointer(size)) {
                    judge(pointer, size);
                }
            }
        }

        private void judge(ByteBuffer pointer, int size) {
            if (!reads(pointer, size)) {
                // the record's buffer is reused for the next put
                unread.add(ByteBuffer.allocate(size).put(pointer.duplicate()).flip());
            }
        }

        @Override
        public void put(byte[] key, byte[] value) {
        }

        @Override
        public void merge(int family, byte[] key, byte[] value) {
        }

        @Override
        public void merge(byte[] key, byte[] value) {
        }

        @Override
        public void delete(int family, byte[] key) {
        }

        @Override
        public void delete(byte[] key) {
        }

        @Override
        public void singleDelete(int family, byte[] key) {
        }

        @Override
        public void singleDelete(byte[] key) {
        }

        @Override
        public void deleteRange(int family, byte[] beginKey, byte[] endKey) {
        }

        @Override
        public void deleteRange(byte[] beginKey, byte[] endKey) {
        }

        @Override
        public void logData(byte[] blob) {
            WalCopies.Copy copy = WalCopies.read(blob);
            if (copy != null) {
                copies.add(copy);
            }
        }

        @Override
        public void putBlobIndex(int family, byte[] key, byte[] value) {
        }

        @Override
        public void markBeginPrepare() {
        }

        @Override
        public void markEndPrepare(byte[] xid) {
        }

        @Override
        public void markNoop(boolean emptyBatch) {
        }

        @Override
        public void markRollback(byte[] xid) {
        }

        @Override
        public void markCommit(byte[] xid) {
        }

        @Override
        public void markCommitWithTimestamp(byte[] xid, byte[] ts) {
        }
    }
}

package cgw.store;

import cgw.store.key.BlockKey;
import cgw.store.key.BlockPointer;
import cgw.store.key.BlockValue;
import cgw.store.key.CatalogKey;
import cgw.store.key.DirtyKey;
import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.TreeMap;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Converts a store of format 1 (a key per block version in {@code blocks}, a key per written
 * block in {@code dirty}) to format 2 (a record per region and epoch, {@link RegionRecord}) when
 * it is opened. Format 1 kept some blocks' bytes in RocksDB itself (written without a value log,
 * or by a partial zero or trim); those are appended to the value log. The records go into their
 * own column families, so a crash during the conversion leaves format 1 as it was: the next open
 * starts over (dropping what the crashed one wrote). The new format is written only once the
 * records and the appended bytes are durable; then the old families are dropped.
 *
 * <p>Runs at open, before anything else uses the store; one thread.
 */
final class FormatUpgrade {
    private static final Logger log = LoggerFactory.getLogger(FormatUpgrade.class);
    static final long FORMAT = 2;
    private static final long FIRST_FORMAT = 1;
    /** Records per committed batch. */
    private static final int BATCH_RECORDS = 4096;
    private static final byte[] ALL_KEYS_END = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff,
            (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff};

    private final Rocks rocks;
    private final ValueLog valueLog;
    private final int blockSize;
    private final int blockShift;
    private long versions;
    private long records;
    private long inlineBlocks;

    private FormatUpgrade(Rocks rocks, ValueLog valueLog, int blockSize) {
        this.rocks = rocks;
        this.valueLog = valueLog;
        this.blockSize = blockSize;
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
    }

    /** Converts the store if it is of format 1; drops the old families a finished conversion left. */
    static void upgradeIfNeeded(Rocks rocks, ValueLog valueLog) {
        try {
            byte[] format = rocks.db.get(rocks.catalog, CatalogKey.meta("format"));
            if (format != null && ByteBuffer.wrap(format).getLong() == FIRST_FORMAT) {
                byte[] size = rocks.db.get(rocks.catalog, CatalogKey.meta("block-size"));
                if (size == null) {
                    throw new StoreException("store at " + rocks.dir() + " has format 1 but no block size");
                }
                new FormatUpgrade(rocks, valueLog, (int) ByteBuffer.wrap(size).getLong()).convert();
            }
            if (format != null && rocks.legacyBlocks != null) {
                rocks.dropLegacy();
            }
        } catch (RocksDBException e) {
            throw rocks.failure("converting the store to format " + FORMAT, e);
        }
    }

    private void convert() throws RocksDBException {
        if (rocks.legacyBlocks == null) {
            throw new StoreException("store at " + rocks.dir() + " has format 1 but no block map of that format");
        }
        long start = System.nanoTime();
        log.info("store at {} is of format 1: converting its block map to region records (format {})", rocks.dir(),
                FORMAT);
        // what a crashed conversion wrote: gone, so that it starts over
        try (WriteBatch clear = new WriteBatch()) {
            clear.deleteRange(rocks.blocks, new byte[0], ALL_KEYS_END);
            clear.deleteRange(rocks.dirty, new byte[0], ALL_KEYS_END);
            rocks.commit(clear);
        }
        convertRecords();
        // the records and the bytes appended for inline blocks, durable before the format says so
        valueLog.sync();
        rocks.db.flushWal(true);
        rocks.db.put(rocks.catalog, rocks.writeOptions, CatalogKey.meta("format"), longBytes(FORMAT));
        rocks.db.flushWal(true);
        log.info("store at {} converted to format {}: {} block versions in {} region records ({} blocks moved from"
                + " RocksDB to the value log) in {} ms", rocks.dir(), FORMAT, versions, records, inlineBlocks,
                (System.nanoTime() - start) / 1_000_000);
    }

    /** Reads the old block map in key order and writes a record per region and epoch. */
    private void convertRecords() throws RocksDBException {
        byte[] key = new byte[BlockKey.LENGTH];
        ByteBuffer keyBuffer = ByteBuffer.wrap(key);
        Map<Long, RegionRecord> region = new TreeMap<>(); // epoch -> record of the region being read
        long volume = -1;
        long regionIndex = -1;
        try (RocksIterator it = rocks.db.newIterator(rocks.legacyBlocks, rocks.scanOptions);
                WriteBatch batch = new WriteBatch()) {
            for (it.seekToFirst(); it.isValid(); it.next()) {
                it.key(key);
                long v = BlockKey.volumeId(keyBuffer);
                long block = BlockKey.blockIndex(keyBuffer);
                if (v != volume || RegionRecord.region(block) != regionIndex) {
                    emit(batch, volume, regionIndex, region);
                    volume = v;
                    regionIndex = RegionRecord.region(block);
                }
                long epoch = BlockKey.epoch(keyBuffer);
                RegionRecord record = region.computeIfAbsent(epoch, e -> new RegionRecord(blockShift));
                setSlot(record, RegionRecord.slot(block), it.value(), v, block);
                versions++;
            }
            Rocks.checkStatus(it);
            emit(batch, volume, regionIndex, region);
            if (batch.count() > 0) {
                rocks.commit(batch);
            }
        }
    }

    private void setSlot(RegionRecord record, int slot, byte[] value, long volume, long block) {
        if (value.length == BlockValue.MARKER_LENGTH || BlockPointer.isPointer(value.length)) {
            record.set(slot, ByteBuffer.wrap(value));
            return;
        }
        if (value.length != blockSize) {
            throw new StoreException("block " + block + " of volume " + volume + " has a value of " + value.length
                    + " bytes, neither a marker, a pointer nor a block");
        }
        // a block format 1 kept inside RocksDB: into the value log
        ValueLog.Reservation reservation = valueLog.reserve(blockSize);
        try {
            reservation.write(0, ByteBuffer.wrap(value));
            record.setPointer(slot, reservation.segment(), reservation.position(),
                    Checksums.crc32c(Checksums.threadCrc(), ByteBuffer.wrap(value)));
        } finally {
            reservation.finish(); // written: the sync at the end makes it durable
        }
        inlineBlocks++;
    }

    private void emit(WriteBatch batch, long volume, long region, Map<Long, RegionRecord> byEpoch)
            throws RocksDBException {
        ByteBuffer encoded = ByteBuffer.allocate(RegionRecord.MAX_LENGTH);
        for (Map.Entry<Long, RegionRecord> entry : byEpoch.entrySet()) {
            int length = entry.getValue().encode(encoded.clear());
            batch.put(rocks.blocks, RegionKey.encode(volume, region, entry.getKey()),
                    java.util.Arrays.copyOf(encoded.array(), length));
            batch.put(rocks.dirty, DirtyKey.encode(volume, entry.getKey(), region), new byte[0]);
            records++;
        }
        byEpoch.clear();
        if (batch.count() >= 2 * BATCH_RECORDS) {
            rocks.commit(batch);
            batch.clear();
        }
    }

    private static byte[] longBytes(long value) {
        return ByteBuffer.allocate(8).putLong(value).array();
    }
}

package cgw.store;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.Cache;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.InfoLogLevel;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WALRecoveryMode;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteBufferManager;
import org.rocksdb.WriteOptions;

/**
 * Owns every native RocksDB object of a store and is the one place where RocksDB options are
 * set. Objects are created in dependency order and closed in reverse, exactly once.
 *
 * <p>Column families: {@code default} holds the catalog, {@code blocks} the block versions
 * ({@link cgw.store.key.RegionKey}), {@code dirty} the per-epoch index of written regions
 * ({@link cgw.store.key.DirtyKey}).
 */
final class Rocks implements AutoCloseable {
    static final String REGIONS = "regions";
    static final String CHANGES = "changes";
    /** Format 1's block map (a key per block version) and its index, until converted. */
    static final String LEGACY_BLOCKS = "blocks";
    static final String LEGACY_DIRTY = "dirty";

    /** Native objects in creation order; closed from the end. */
    private final List<AutoCloseable> owned = new ArrayList<>();
    /** The store's directory, named in every failure. */
    private final Path dir;

    final RocksDB db;
    final ColumnFamilyHandle catalog;
    /** The block map: region records ({@link cgw.store.key.RegionKey}). */
    final ColumnFamilyHandle blocks;
    /** Its index by epoch ({@link cgw.store.key.DirtyKey}). */
    final ColumnFamilyHandle dirty;
    /** Format 1's block map and index while a store of that format is converted; null otherwise. */
    @Nullable
    ColumnFamilyHandle legacyBlocks;
    @Nullable
    ColumnFamilyHandle legacyDirty;
    /** Writes: WAL on, no sync; durability comes from {@link WalSync}. */
    final WriteOptions writeOptions;
    /** Reads of block data: checksums verified, cache filled. */
    final ReadOptions readOptions;
    /**
     * Scans of the dirty index, the collector's passes, and reads of at least
     * {@link #LONG_READ_BYTES}: checksums verified, cache not filled. Long reads are mostly scans
     * too (copies, a backup reading 64 KiB chunks, a guest reading a big file) whose blocks would
     * push the hot blocks of small random reads out of the cache, and inserting and evicting them
     * costs more than it saves. The files' pages stay in the kernel's page cache
     * either way.
     */
    final ReadOptions scanOptions;
    static final int LONG_READ_BYTES = 64 << 10;

    /** {@code cacheBytes}: the block cache, memtables included (the store's budget less its pointer cache). */
    private Rocks(Path dir, StoreOptions options, long cacheBytes, FlushOrder flushOrder, ReplayCheck replayCheck)
            throws RocksDBException {
        this.dir = dir;
        RocksDB.loadLibrary();
        own(flushOrder);
        own(replayCheck);
        Cache cache = own(new LRUCache(cacheBytes));
        WriteBufferManager writeBuffers = own(new WriteBufferManager(options.memtableBytes(), cache));

        DBOptions dbOptions = own(new DBOptions())
                .setCreateIfMissing(true)
                .setCreateMissingColumnFamilies(true)
                // a crash loses at most a suffix of un-synced writes, never a write in the middle
                .setWalRecoveryMode(WALRecoveryMode.PointInTimeRecovery)
                .setWriteBufferManager(writeBuffers)
                .setMaxTotalWalSize(2 * options.memtableBytes())
                // reuse obsolete WAL files: a sync of an overwritten file has no size to persist,
                // which makes a small write + flush cheaper; point-in-time recovery handles recycled files since RocksDB 9.x (facebook/rocksdb#12403)
                .setRecycleLogFileNum(4)
                .setMaxBackgroundJobs(4)
                .setBytesPerSync(1 << 20)
                .setWalBytesPerSync(1 << 20)
                .setAvoidUnnecessaryBlockingIO(true)
                // a writer returns once its WAL record is written and its own memtable insert is
                // done, not after every writer of its group, whose hand-offs cost small writes
                // from many threads a quarter of their CPU. Given up: a reader may see part of a batch in flight, and an
                // iterator may see writes that were in flight when it was created. Reads of blocks
                // being written may see any mix (NBD allows it), the catalog is read only at open,
                // and the collector and cleaner never rely on an in-flight write being invisible
                // (docs/store.md, Concurrency). Crash recovery still replays whole batches in order.
                .setUnorderedWrite(true)
                .setKeepLogFileNum(5)
                .setMaxLogFileSize(16 << 20)
                .setInfoLogLevel(InfoLogLevel.WARN_LEVEL)
                .setListeners(List.of(flushOrder))
                .setWalFilter(replayCheck);

        ColumnFamilyOptions catalogOptions = own(new ColumnFamilyOptions())
                .setTableFormatConfig(table(cache, 4096, null));
        ColumnFamilyOptions blockOptions = own(new ColumnFamilyOptions())
                .setTableFormatConfig(table(cache, 16 << 10, own(new BloomFilter(10, false))))
                // all versions of one block share a 16-byte prefix: prefix bloom filters let a
                // single-block seek skip files that never held the block
                .useFixedLengthPrefixExtractor(cgw.store.key.RegionKey.REGION_PREFIX_LENGTH)
                .setMemtablePrefixBloomSizeRatio(0.05)
                .setCompressionType(CompressionType.LZ4_COMPRESSION)
                // values are region records of pointers (the value log holds the data): larger
                // memtables make random inserts slower (longer skip list splices)
                .setWriteBufferSize(Math.min(8L << 20, options.memtableBytes() / 2))
                .setMaxWriteBufferNumber(4)
                .setLevelCompactionDynamicLevelBytes(true)
                .setTargetFileSizeBase(64L << 20)
                .setMaxBytesForLevelBase(256L << 20);
        ColumnFamilyOptions dirtyOptions = own(new ColumnFamilyOptions())
                .setTableFormatConfig(table(cache, 16 << 10, null))
                .setCompressionType(CompressionType.LZ4_COMPRESSION)
                .setWriteBufferSize(Math.max(4L << 20, options.memtableBytes() / 8))
                .setMaxWriteBufferNumber(4)
                .setLevelCompactionDynamicLevelBytes(true);

        List<ColumnFamilyDescriptor> descriptors = new ArrayList<>(List.of(
                new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, catalogOptions),
                new ColumnFamilyDescriptor(REGIONS.getBytes(StandardCharsets.US_ASCII), blockOptions),
                new ColumnFamilyDescriptor(CHANGES.getBytes(StandardCharsets.US_ASCII), dirtyOptions)));
        // format 1's block map, until FormatUpgrade has converted and dropped it
        boolean legacy = existingFamilies(dir).contains(LEGACY_BLOCKS);
        if (legacy) {
            descriptors.add(new ColumnFamilyDescriptor(LEGACY_BLOCKS.getBytes(StandardCharsets.US_ASCII),
                    blockOptions));
            descriptors.add(new ColumnFamilyDescriptor(LEGACY_DIRTY.getBytes(StandardCharsets.US_ASCII),
                    dirtyOptions));
        }
        List<ColumnFamilyHandle> handles = new ArrayList<>();
        this.db = own(RocksDB.open(dbOptions, dir.toString(), descriptors, handles));
        handles.forEach(this::own);
        this.catalog = handles.get(0);
        this.blocks = handles.get(1);
        this.dirty = handles.get(2);
        this.legacyBlocks = legacy ? handles.get(3) : null;
        this.legacyDirty = legacy ? handles.get(4) : null;

        this.writeOptions = own(new WriteOptions()).setSync(false).setDisableWAL(false);
        this.readOptions = own(new ReadOptions()).setVerifyChecksums(true).setFillCache(true)
                .setTotalOrderSeek(true);
        this.scanOptions = own(new ReadOptions()).setVerifyChecksums(true).setFillCache(false)
                .setTotalOrderSeek(true);
    }

    /** A table config on the shared cache; {@code prefixBloom} null means no filter. */
    private static BlockBasedTableConfig table(Cache cache, long blockSizeBytes, @Nullable BloomFilter prefixBloom) {
        BlockBasedTableConfig table = new BlockBasedTableConfig()
                .setBlockCache(cache)
                .setBlockSize(blockSizeBytes)
                .setCacheIndexAndFilterBlocks(true)
                .setPinL0FilterAndIndexBlocksInCache(true)
                .setFormatVersion(5);
        if (prefixBloom != null) {
            table.setFilterPolicy(prefixBloom).setWholeKeyFiltering(false);
        }
        return table;
    }

    static Rocks open(Path dir, StoreOptions options, long cacheBytes, FlushOrder flushOrder,
            ReplayCheck replayCheck) {
        try {
            return new Rocks(dir, options, cacheBytes, flushOrder, replayCheck);
        } catch (RocksDBException e) {
            String message = e.getMessage() == null ? "" : e.getMessage();
            if (message.contains("While lock file") || message.contains("lock hold by current process")) {
                throw new StoreException("store at " + dir + " is in use by another process (" + message + ")", e);
            }
            throw new StoreException("cannot open store at " + dir + ": " + message, e);
        }
    }

    Path dir() {
        return dir;
    }

    /** The column families the store in {@code dir} has, none for a new one. */
    private static List<String> existingFamilies(Path dir) {
        if (!Files.exists(dir.resolve("CURRENT"))) {
            return List.of();
        }
        try (Options options = new Options()) {
            return RocksDB.listColumnFamilies(options, dir.toString()).stream()
                    .map(name -> new String(name, StandardCharsets.US_ASCII)).toList();
        } catch (RocksDBException e) {
            throw new StoreException("cannot list the column families of the store at " + dir + ": " + e.getMessage(),
                    e);
        }
    }

    /** Drops format 1's block map once the store is converted (the format says so, durably). */
    void dropLegacy() throws RocksDBException {
        if (legacyBlocks != null && legacyDirty != null) {
            db.dropColumnFamilies(List.of(legacyBlocks, legacyDirty));
            legacyBlocks = null;
            legacyDirty = null;
        }
    }

    /** Writes a batch with {@link #writeOptions}: in the WAL, not synced. */
    void commit(WriteBatch batch) throws RocksDBException {
        db.write(writeOptions, batch);
    }

    /** The store's exception for a RocksDB error while doing {@code what}. */
    StoreException failure(String what, RocksDBException e) {
        return StoreFullException.failure(what + " failed in " + dir + ": " + e.getMessage(), e);
    }

    /** Throws the iterator's error, if it met one, as a {@link StoreException}. */
    static void checkStatus(RocksIterator it) {
        try {
            it.status();
        } catch (RocksDBException e) {
            throw new StoreException("RocksDB iterator failed: " + e.getMessage(), e);
        }
    }

    private <T extends AutoCloseable> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    /** Closes everything in reverse order of creation; a failure does not stop the rest. */
    @Override
    public void close() {
        StoreException failure = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            AutoCloseable resource = owned.get(i);
            try {
                if (resource instanceof RocksDB rocksDb) {
                    rocksDb.closeE();
                } else {
                    resource.close();
                }
            } catch (Exception e) {
                if (failure == null) {
                    failure = new StoreException(
                            "closing " + resource.getClass().getSimpleName() + " failed: " + e.getMessage(), e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        owned.clear();
        if (failure != null) {
            throw failure;
        }
    }
}

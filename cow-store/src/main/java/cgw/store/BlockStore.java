package cgw.store;

import cgw.store.key.BlockKey;
import cgw.store.key.BlockValue;
import cgw.store.key.CatalogKey;
import cgw.store.key.DirtyKey;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;
import org.roaringbitmap.longlong.Roaring64Bitmap;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A copy-on-write block store of volumes on one RocksDB instance.
 *
 * <p>Every block version lives under {@code (volume, block, ~epoch)}: a write at the head epoch
 * replaces its own version in place, the first write after a {@link #cut} creates a new one, so a
 * cut is O(1) and old epochs stay readable until {@link #release}d. Clones fall through to a
 * {@code (parent, epoch)} for blocks they never wrote. Catalog changes go to RocksDB in the same
 * {@code WriteBatch} as the data they describe.
 *
 * <p>Threads: every public method is safe to call from any thread. Catalog changes (create,
 * grow, cut, release, clone, delete) serialise on {@code catalogLock}; block I/O takes no global
 * lock. Writes of partial blocks lock their block's stripe for the read-modify-write. Nothing here
 * knows about NBD or HTTP.
 *
 * <p>Buffers: reads fill {@code dst} from its position to its limit and writes consume
 * {@code src} from its position to its limit; neither moves the caller's position or limit.
 */
public final class BlockStore implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BlockStore.class);

    /** Largest volume: 1 PiB. */
    public static final long MAX_VOLUME_SIZE_BYTES = 1L << 50;
    /** Volume sizes are whole sectors. */
    public static final int SECTOR_BYTES = 512;
    /** Longest chain of clones of clones. */
    public static final int MAX_CLONE_DEPTH = 32;
    /** The epoch argument of a write that goes to whatever the head epoch is when it applies. */
    public static final long HEAD = Long.MAX_VALUE;
    /** Most blocks put in one atomic WriteBatch; longer writes are split. */
    static final int MAX_BATCH_BLOCKS = 1024;

    private static final Pattern VOLUME_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final int FORMAT = 1;
    private static final int LOCK_STRIPES = 4096;
    private static final int STRIPE_REGION_SHIFT = 4;
    /**
     * Pages of {@link HeadDirtyBlocks} all volumes may hold: 16 MiB, enough for 512 GiB of
     * 4 KiB blocks rewritten between two cuts.
     */
    static final int HEAD_DIRTY_PAGES = 2048;
    /** Largest block overwritten in place: a page, which a killed process never leaves half written. */
    private static final int MAX_OVERWRITE_BLOCK_BYTES = 4096;
    /** Misses of the pointer cache past which a long head read walks RocksDB instead ({@link #readHeadFromCache}). */
    private static final int MAX_CACHE_MISS_PERMILLE = 125;
    /** Shortest run of blocks overwritten in place (see {@link #findOverwrites}). */
    static final int MIN_OVERWRITE_RUN_BYTES = 64 << 10;
    /**
     * Longest read {@link #readNoWait} serves on its caller's thread: the NBD server's 1 MiB
     * reads, whose copy (a few hundred microseconds) is then sent while it is still in the cache.
     */
    static final int MAX_NO_WAIT_READ_BYTES = 1 << 20;

    private final Path dir;
    private final Rocks rocks;
    private final ValueLog valueLog;
    /** Whether new block data goes to {@link #valueLog} (pointers in RocksDB) or into RocksDB. */
    private final boolean logWrites;
    /** Whether data writes to blocks already in the head epoch overwrite their bytes in the log. */
    private final boolean overwriteInPlace;
    /** Names this open in the pointers of blocks overwritten in place ({@link ValueLog.Pointer}); never 0. */
    private final int session = new java.security.SecureRandom().nextInt() | 1;
    private final LogCleaner cleaner;
    private final int blockSize;
    private final int blockShift;
    private final byte[] zeros;
    private final ByteBuffer zeroBlock;
    /** The CRC of {@link #zeroBlock}: a block with another CRC is not all zeros. */
    private final int zeroBlockCrc;
    private final WalSync walSync;
    private final SpaceGuard spaceGuard;
    private final ReentrantLock[] blockLocks = new ReentrantLock[LOCK_STRIPES];
    private final ThreadLocal<WriteContext> writeContexts;
    /** Whether {@link #writeNoWait} may dirty pages now; replaced only by tests. */
    private volatile WriteBackRoom writeBackRoom = WriteBackRoom.ofThisMachine();
    private final java.util.concurrent.atomic.LongAdder noWaitWrites = new java.util.concurrent.atomic.LongAdder();
    /** What is left of {@link #HEAD_DIRTY_PAGES}. */
    private final java.util.concurrent.atomic.AtomicInteger headDirtyPages =
            new java.util.concurrent.atomic.AtomicInteger(HEAD_DIRTY_PAGES);
    /** Per-thread direct key buffers of {@link #readHeadBlock}. */
    private final ThreadLocal<ByteBuffer> readKeys = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(BlockKey.LENGTH));
    private final ThreadLocal<PointerCache.Hit> cacheHits = ThreadLocal.withInitial(PointerCache.Hit::new);
    private final ThreadLocal<CachedRange> cachedRanges = ThreadLocal.withInitial(CachedRange::new);
    private final ThreadLocal<ByteBuffer> tableSlots = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(ValueLog.TABLE_SLOT_BYTES));
    /** Pointers of head-epoch versions that reads looked up; see its invariants. */
    private final PointerCache pointerCache;
    private final Set<WriteContext> allWriteContexts = ConcurrentHashMap.newKeySet();

    /** Guards the catalog: the maps below, each volume's retained/pins/clones, nextVolumeId. */
    private final Object catalogLock = new Object();
    private final Map<String, Volume> byName = new ConcurrentHashMap<>();
    private final Map<Long, Volume> byId = new ConcurrentHashMap<>();
    private long nextVolumeId;

    /** Serialises collector passes (background thread and explicit calls). */
    private final ReentrantLock gcLock = new ReentrantLock();
    private final GarbageCollector collector;
    private final Defragmenter defragmenter;
    private volatile GcStats gcTotals = new GcStats(0, 0, 0); // written under gcLock
    /** Collections to run, mirrored by the catalog's 'G' keys. Guarded by the catalog lock. */
    private final List<GcTask> gcTasks = new ArrayList<>();

    private final AtomicLong inFlight = new AtomicLong();
    private volatile boolean closed;

    private BlockStore(Path dir, StoreOptions options, Rocks rocks, ValueLog valueLog, int pointerCacheSlots) {
        this.dir = dir;
        this.rocks = rocks;
        this.valueLog = valueLog;
        this.logWrites = options.valueLogSegmentBytes() > 0;
        this.blockSize = loadBlockSize(options.blockSizeBytes());
        // a block of one page is overwritten whole or not at all when the process dies mid-write
        this.overwriteInPlace = logWrites && options.overwriteInPlace() && blockSize <= MAX_OVERWRITE_BLOCK_BYTES;
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.zeros = new byte[blockSize];
        this.zeroBlock = ByteBuffer.wrap(zeros).asReadOnlyBuffer();
        this.zeroBlockCrc = crc32c(zeroBlock);
        this.walSync = new WalSync(rocks.db, valueLog);
        this.pointerCache = new PointerCache(pointerCacheSlots);
        // room for RocksDB to flush both memtable generations and write its logs
        this.spaceGuard = new SpaceGuard(dir, 2 * options.memtableBytes() + (64L << 20));
        this.cleaner = new LogCleaner(this, rocks, valueLog, blockSize);
        for (int i = 0; i < LOCK_STRIPES; i++) {
            blockLocks[i] = new ReentrantLock();
        }
        this.writeContexts = ThreadLocal.withInitial(() -> {
            WriteContext context = new WriteContext(blockSize);
            allWriteContexts.add(context);
            return context;
        });
        loadCatalog();
        this.collector = new GarbageCollector(this, options.gcBlocksPerSecond());
        this.defragmenter = new Defragmenter(this, new LogMover(this, valueLog, blockSize));
        if (options.backgroundGc()) {
            collector.start();
            defragmenter.start();
        }
    }

    /** Opens the store in {@code dir}, creating it when missing. */
    public static BlockStore open(Path dir, StoreOptions options) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            String reason = e instanceof java.nio.file.FileSystemException fs && fs.getReason() != null
                    ? fs.getReason() : e.toString();
            throw new StoreException("cannot create store directory " + dir + ": " + reason, e);
        }
        int pointerCacheSlots = PointerCache.slotsFor(options);
        Rocks rocks = Rocks.open(dir, options, options.cacheBytes() - PointerCache.bytesOf(pointerCacheSlots));
        ValueLog valueLog = null;
        try {
            long segmentBytes = options.valueLogSegmentBytes() > 0 ? options.valueLogSegmentBytes()
                    : StoreOptions.defaults().valueLogSegmentBytes();
            valueLog = ValueLog.open(dir, segmentBytes);
            BlockStore store = new BlockStore(dir, options, rocks, valueLog, pointerCacheSlots);
            log.info("opened store at {} ({} volumes, block size {} bytes)", dir, store.byId.size(), store.blockSize);
            return store;
        } catch (RuntimeException e) {
            try {
                rocks.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (valueLog != null) {
                valueLog.close();
            }
            throw e;
        }
    }

    public int blockSizeBytes() {
        return blockSize;
    }

    // ---------------------------------------------------------------- volumes

    public Volume createVolume(String name, long sizeBytes) {
        checkName(name);
        checkSize("size", sizeBytes);
        enter();
        try {
            Volume created;
            synchronized (catalogLock) {
                if (byName.containsKey(name)) {
                    throw new VolumeExistsException("volume " + name + " already exists");
                }
                long id = nextVolumeId;
                VolumeRecord record = new VolumeRecord(id, name, sizeBytes, 1, System.currentTimeMillis(), 0, 0, 0);
                try (WriteBatch batch = new WriteBatch()) {
                    batch.put(rocks.catalog, CatalogKey.volume(id), record.encode());
                    batch.put(rocks.catalog, CatalogKey.meta("next-volume-id"), longBytes(id + 1));
                    commit(batch);
                } catch (RocksDBException e) {
                    throw storeFailure("creating " + name, e);
                }
                nextVolumeId = id + 1;
                Volume volume = new Volume(record, null, headDirtyPages);
                register(volume);
                log.info("created volume {} ({} bytes)", name, sizeBytes);
                created = volume;
            }
            syncCatalog();
            return created;
        } finally {
            exit();
        }
    }

    /**
     * Makes a catalog change durable before its caller hears of it. Outside the catalog lock, so
     * a cut is never held up by a sync; the WAL keeps the order of writes either way.
     */
    private void syncCatalog() {
        walSync.sync();
    }

    /** The volume of that name; throws {@link VolumeNotFoundException} when there is none. */
    public Volume volume(String name) {
        Volume volume = byName.get(name);
        if (volume == null) {
            throw new VolumeNotFoundException("no volume named " + name);
        }
        return volume;
    }

    public VolumeInfo info(Volume volume) {
        enter();
        try {
            synchronized (catalogLock) {
                checkAlive(volume);
                return volume.info();
            }
        } finally {
            exit();
        }
    }

    /** All volumes, ordered by name. */
    public List<VolumeInfo> volumes() {
        enter();
        try {
            synchronized (catalogLock) {
                return byName.values().stream()
                        .sorted(Comparator.comparing(Volume::name))
                        .map(Volume::info)
                        .toList();
            }
        } finally {
            exit();
        }
    }

    /** Grows a volume; shrinking is refused, since it would silently drop data. */
    public VolumeInfo grow(Volume volume, long newSizeBytes) {
        checkSize("size", newSizeBytes);
        enter();
        try {
            VolumeInfo grown;
            synchronized (catalogLock) {
                checkAlive(volume);
                if (newSizeBytes < volume.sizeBytes) {
                    throw new InvalidRequestException("cannot shrink " + volume.name + " from " + volume.sizeBytes
                            + " to " + newSizeBytes + " bytes");
                }
                persistVolume(volume.record().withSizeBytes(newSizeBytes));
                volume.sizeBytes = newSizeBytes;
                grown = volume.info();
            }
            syncCatalog();
            return grown;
        } finally {
            exit();
        }
    }

    /**
     * Deletes a volume and all its epochs. Refused while clones depend on it: delete or restore
     * the clones first (as Ceph RBD refuses to remove a snapshot with children). Space is
     * reclaimed by RocksDB compaction of the range tombstones.
     */
    public void delete(Volume volume) {
        enter();
        try {
            synchronized (catalogLock) {
                checkAlive(volume);
                if (!volume.clones.isEmpty()) {
                    throw new VolumeInUseException("volume " + volume.name + " has clones ("
                            + String.join(", ", volume.clones.stream().map(Volume::name).toList())
                            + "); delete them first");
                }
                volume.headLock.writeLock().lock();
                try (WriteBatch batch = new WriteBatch()) {
                    long id = volume.id;
                    batch.delete(rocks.catalog, CatalogKey.volume(id));
                    batch.deleteRange(rocks.catalog, CatalogKey.epochsStart(CatalogKey.RETAINED, id),
                            CatalogKey.epochsEnd(CatalogKey.RETAINED, id));
                    batch.deleteRange(rocks.catalog, CatalogKey.epochsStart(CatalogKey.PENDING_GC, id),
                            CatalogKey.epochsEnd(CatalogKey.PENDING_GC, id));
                    GcTask unpinned = volume.parent == null ? null : unpinTask(volume.parent, volume.parentEpoch);
                    if (unpinned != null) {
                        batch.put(rocks.catalog, unpinned.key(), new byte[0]);
                    }
                    batch.deleteRange(rocks.blocks, BlockKey.volumeStart(id), BlockKey.volumeEnd(id));
                    batch.deleteRange(rocks.dirty, BlockKey.volumeStart(id), BlockKey.volumeEnd(id));
                    commit(batch);
                    volume.deleted = true;
                    volume.headDirty.discard();
                    gcTasks.removeIf(task -> task.volumeId() == volume.id);
                    if (unpinned != null) {
                        gcTasks.add(unpinned);
                    }
                } catch (RocksDBException e) {
                    throw storeFailure("deleting " + volume.name, e);
                } finally {
                    volume.headLock.writeLock().unlock();
                }
                byName.remove(volume.name);
                byId.remove(volume.id);
                if (volume.parent != null) {
                    volume.parent.clones.remove(volume);
                    decrementPin(volume.parent, volume.parentEpoch);
                }
                log.info("deleted volume {}", volume.name);
                cleaner.hintGarbage();
            }
            syncCatalog();
        } finally {
            exit();
        }
        collector.wake();
    }

    // ---------------------------------------------------------------- epochs and clones

    /** Seals the head epoch of a volume and returns it; it stays readable until released. */
    public long cut(Volume volume) {
        return cut(List.of(volume))[0];
    }

    /**
     * Seals the head epoch of every volume in one catalog write and returns the sealed epochs in
     * the same order. O(1) in the size of the volumes: no data is read or copied. Writes in flight
     * on these volumes finish first (they hold the read side of the head lock).
     */
    public long[] cut(List<Volume> volumes) {
        return cut(volumes, sealed -> null);
    }

    /**
     * {@link #cut(List)}, writing the records {@code alongside} returns (given the epochs being
     * sealed, in the order of {@code volumes}) in the same atomic catalog write: a layer above
     * records what the cut means (a pending snapshot) without a window where one exists without
     * the other. {@code alongside} runs under the catalog lock and must only build the changes.
     * Not synced: call {@link #flush} when the cut must be durable.
     */
    public long[] cut(List<Volume> volumes, Function<long[], CatalogChanges> alongside) {
        enter();
        try {
            if (new java.util.HashSet<>(volumes).size() != volumes.size()) {
                throw new InvalidRequestException("a volume appears twice in one cut: " + volumes);
            }
            synchronized (catalogLock) {
                List<Volume> locked = new ArrayList<>(volumes.size());
                try {
                    for (Volume volume : volumes) {
                        checkAlive(volume);
                        volume.headLock.writeLock().lock();
                        locked.add(volume);
                    }
                    long[] sealed = new long[volumes.size()];
                    List<GcTask> tasks = new ArrayList<>();
                    try (WriteBatch batch = new WriteBatch()) {
                        for (int i = 0; i < volumes.size(); i++) {
                            Volume volume = volumes.get(i);
                            sealed[i] = volume.headEpoch;
                            GcTask task = cutTask(volume, sealed[i]);
                            if (task != null) {
                                batch.put(rocks.catalog, task.key(), new byte[0]);
                                tasks.add(task);
                            }
                            batch.put(rocks.catalog, CatalogKey.volume(volume.id),
                                    volume.record().withHeadEpoch(sealed[i] + 1).encode());
                            batch.put(rocks.catalog, CatalogKey.epoch(CatalogKey.RETAINED, volume.id, sealed[i]),
                                    longBytes(volume.sizeBytes));
                        }
                        addChanges(batch, alongside.apply(sealed.clone()));
                        commit(batch);
                    } catch (RocksDBException e) {
                        throw storeFailure("cutting " + volumes, e);
                    }
                    for (int i = 0; i < volumes.size(); i++) {
                        Volume volume = volumes.get(i);
                        volume.retained.put(sealed[i], volume.sizeBytes);
                        volume.headEpoch = sealed[i] + 1;
                        volume.headDirty.discard();
                        volume.headDirty = new HeadDirtyBlocks(volume.headEpoch, headDirtyPages);
                    }
                    gcTasks.addAll(tasks);
                    return sealed;
                } finally {
                    for (Volume volume : locked) {
                        volume.headLock.writeLock().unlock();
                    }
                }
            }
        } finally {
            exit();
        }
    }

    /**
     * Releases a retained epoch. Its versions that no other retained epoch, clone or the head can
     * see become garbage for the collector. An epoch that clones fall through to stays pinned
     * until the last such clone is deleted.
     *
     * <p>Releasing {@code r} merges the two spans of epochs around it: a version visible at
     * {@code r} becomes garbage exactly when its next newer version lies in {@code (r, N]}, N being
     * the next kept epoch above (or the head). So the collector examines the blocks written in
     * {@code (r, N]} — what changed since the snapshot — never the whole volume.
     */
    public void release(Volume volume, long epoch) {
        release(List.of(new VolumeEpoch(volume, epoch)), new CatalogChanges());
    }

    /**
     * Releases several retained epochs (of one volume or many) and applies {@code alongside} in
     * one atomic catalog write, then syncs it: a layer above drops its record of a snapshot
     * together with the epochs the record names. Fails without changing anything when one of
     * the epochs is not retained.
     */
    public void release(List<VolumeEpoch> epochs, CatalogChanges alongside) {
        enter();
        try {
            synchronized (catalogLock) {
                List<GcTask> tasks = new ArrayList<>();
                try (WriteBatch batch = new WriteBatch()) {
                    for (VolumeEpoch ref : epochs) {
                        checkAlive(ref.volume());
                        requireRetained(ref.volume(), ref.epoch());
                    }
                    if (new java.util.HashSet<>(epochs).size() != epochs.size()) {
                        throw new InvalidRequestException("an epoch appears twice in one release: " + epochs);
                    }
                    for (VolumeEpoch ref : epochs) {
                        Volume volume = ref.volume();
                        batch.delete(rocks.catalog, CatalogKey.epoch(CatalogKey.RETAINED, volume.id, ref.epoch()));
                        if (!volume.pins.containsKey(ref.epoch())) {
                            GcTask task = releaseTask(volume, ref.epoch());
                            batch.put(rocks.catalog, task.key(), new byte[0]);
                            tasks.add(task);
                        }
                    }
                    addChanges(batch, alongside);
                    commit(batch);
                } catch (RocksDBException e) {
                    throw storeFailure("releasing " + epochs, e);
                }
                for (VolumeEpoch ref : epochs) {
                    ref.volume().retained.remove(ref.epoch());
                }
                gcTasks.addAll(tasks);
            }
            syncCatalog();
        } finally {
            exit();
        }
        collector.wake();
    }

    /** Applies records of a layer above the store on their own, synced when {@code sync}. */
    public void updateCatalog(CatalogChanges changes, boolean sync) {
        enter();
        try {
            try (WriteBatch batch = new WriteBatch()) {
                addChanges(batch, changes);
                commit(batch);
            } catch (RocksDBException e) {
                throw storeFailure("updating the catalog", e);
            }
            if (sync) {
                syncCatalog();
            }
        } finally {
            exit();
        }
    }

    /** The records of layers above the store whose names start with {@code prefix}, sorted by name. */
    public SortedMap<String, byte[]> catalogEntries(String prefix) {
        enter();
        try (RocksIterator it = rocks.db.newIterator(rocks.catalog, rocks.scanOptions)) {
            SortedMap<String, byte[]> entries = new TreeMap<>();
            byte[] start = CatalogKey.app(prefix);
            for (it.seek(start); it.isValid(); it.next()) {
                byte[] key = it.key();
                if (!startsWith(key, start)) {
                    break;
                }
                entries.put(CatalogKey.appName(key), it.value());
            }
            checkStatus(it);
            return entries;
        } finally {
            exit();
        }
    }

    private static boolean startsWith(byte[] key, byte[] prefix) {
        return key.length >= prefix.length && java.util.Arrays.equals(key, 0, prefix.length, prefix, 0, prefix.length);
    }

    private void addChanges(WriteBatch batch, CatalogChanges changes) throws RocksDBException {
        if (changes == null) {
            return;
        }
        for (CatalogChanges.Change change : changes.changes()) {
            if (change.value() == null) {
                batch.delete(rocks.catalog, change.key());
            } else {
                batch.put(rocks.catalog, change.key(), change.value());
            }
        }
    }

    /** The size of a volume at the head or at a retained epoch. */
    public long sizeBytes(Volume volume, long epoch) {
        return readableSize(volume, epoch);
    }

    /** Retained epochs of a volume, oldest first. */
    public List<Long> retainedEpochs(Volume volume) {
        synchronized (catalogLock) {
            checkAlive(volume);
            return List.copyOf(volume.retained.keySet());
        }
    }

    /**
     * Creates a writable volume {@code name} whose blocks fall through to {@code source} at the
     * retained {@code epoch} until written. Its size is the source's size at that epoch.
     */
    public Volume clone(Volume source, long epoch, String name) {
        checkName(name);
        enter();
        try {
            Volume created;
            synchronized (catalogLock) {
                checkAlive(source);
                if (byName.containsKey(name)) {
                    throw new VolumeExistsException("volume " + name + " already exists");
                }
                long sizeAtEpoch = requireRetained(source, epoch);
                if (source.depth + 1 > MAX_CLONE_DEPTH) {
                    throw new InvalidRequestException("clone chain of " + source.name + " is already "
                            + source.depth + " deep; the limit is " + MAX_CLONE_DEPTH);
                }
                long id = nextVolumeId;
                VolumeRecord record = new VolumeRecord(id, name, sizeAtEpoch, 1, System.currentTimeMillis(),
                        source.id, epoch, sizeAtEpoch);
                try (WriteBatch batch = new WriteBatch()) {
                    batch.put(rocks.catalog, CatalogKey.volume(id), record.encode());
                    batch.put(rocks.catalog, CatalogKey.meta("next-volume-id"), longBytes(id + 1));
                    commit(batch);
                } catch (RocksDBException e) {
                    throw storeFailure("cloning " + source.name + "@" + epoch, e);
                }
                nextVolumeId = id + 1;
                Volume clone = new Volume(record, source, headDirtyPages);
                register(clone);
                log.info("cloned {}@{} as {}", source.name, epoch, name);
                created = clone;
            }
            syncCatalog();
            return created;
        } finally {
            exit();
        }
    }

    // ---------------------------------------------------------------- block I/O

    /** Reads the head of a volume, whatever epoch it is at while the read runs (a cut may seal one meanwhile). */
    public void read(Volume volume, long offset, ByteBuffer dst) {
        read(volume, HEAD, offset, dst);
    }

    /** Reads a volume as it is at {@code epoch}: {@link #HEAD}, the head epoch or a retained epoch. */
    public void read(Volume volume, long epoch, long offset, ByteBuffer dst) {
        enter();
        try {
            int length = dst.remaining();
            checkRange(volume, offset, length, readableSize(volume, epoch));
            if (length > 0) {
                try {
                    readRange(volume, epoch, offset, dst.slice(), 0, length);
                } catch (ChecksumMismatch e) {
                    if (!overwriteInPlace) {
                        throw e;
                    }
                    // maybe a write overwrote a block in place while this read copied it
                    readRangeExclusive(volume, epoch, offset, dst.slice(), length);
                }
            }
        } finally {
            exit();
        }
    }

    /**
     * Reads whole blocks of the head, as {@link #read(Volume, long, ByteBuffer)} would, but only if
     * that needs no waiting at all: every block's pointer is in the {@link PointerCache}, the blocks
     * lie in few runs in the log (at most one per 16 blocks, as a laid-out volume does) and their
     * bytes are in the page cache ({@link NoWaitReads}). Returns false, with {@code dst}'s bytes
     * undefined, when the caller must call {@code read} instead, on a thread that may wait; that
     * is also the answer for anything {@code read} would report as an error, and for requests
     * that are not whole aligned blocks into a direct buffer, or longer than
     * {@link #MAX_NO_WAIT_READ_BYTES}. Never takes a lock it would wait for, so a thread that must
     * not block (an NBD event loop) may call it; it then copies and checks the bytes itself,
     * right before it sends them. {@code dst}'s position is left unchanged, as by {@code read}.
     */
    public boolean readNoWait(Volume volume, long offset, ByteBuffer dst) {
        int length = dst.remaining();
        if (length == 0 || length > MAX_NO_WAIT_READ_BYTES || ((offset | length) & (blockSize - 1)) != 0
                || !dst.isDirect()) {
            return false;
        }
        enter();
        try {
            if (volume.deleted || offset < 0 || offset > volume.sizeBytes - length) {
                return false;
            }
            java.util.concurrent.locks.Lock removal = valueLog.readLock();
            if (!removal.tryLock()) {
                return false;
            }
            try {
                return length == blockSize ? readHeadBlockNoWait(volume, offset >>> blockShift, dst.slice())
                        : readHeadNoWait(volume, volume.headEpoch, offset >>> blockShift, length >>> blockShift, dst.slice());
            } finally {
                removal.unlock();
            }
        } finally {
            exit();
        }
    }

    /** {@link #readNoWait} of one block (the 4 KiB random read), under the value log's read lock. */
    private boolean readHeadBlockNoWait(Volume volume, long block, ByteBuffer into) {
        PointerCache.Hit hit = cacheHits.get();
        if (!pointerCache.get(volume.id, block, volume.headEpoch, hit)
                || !valueLog.readNoWait(hit.segment, hit.position, into)) {
            return false;
        }
        int actual = crc32c(CRCS.get(), into.flip());
        if (actual == hit.crc || actual == hit.previousCrc) {
            return true;
        }
        // a race with an overwrite in place, or damage: read() decides
        pointerCache.clear(volume.id, block);
        return false;
    }

    /** {@link #readNoWait} of {@code count} blocks from {@code first}, under the value log's read lock. */
    private boolean readHeadNoWait(Volume volume, long epoch, long first, int count, ByteBuffer out) {
        CachedRange range = cachedRanges.get().ensure(count);
        PointerCache.Hit hit = cacheHits.get();
        int runs = 0;
        for (int i = 0; i < count; i++) {
            if (!pointerCache.get(volume.id, first + i, epoch, hit)) {
                return false;
            }
            range.segment[i] = hit.segment;
            range.position[i] = hit.position;
            range.crc[i] = hit.crc;
            range.previousCrc[i] = hit.previousCrc;
            if ((i == 0 || !range.follows(i, blockSize)) && ++runs > Math.max(1, count / Defragmenter.BLOCKS_PER_BREAK)) {
                return false; // scattered: the waiting read asks for the range to be laid out again
            }
        }
        for (int i = 0; i < count; ) {
            int end = i + 1;
            while (end < count && range.follows(end, blockSize)) {
                end++;
            }
            if (!valueLog.readNoWait(range.segment[i], range.position[i], out.slice(i << blockShift, (end - i) << blockShift))) {
                return false;
            }
            i = end;
        }
        CRC32C crc = CRCS.get();
        for (int i = 0; i < count; i++) {
            int actual = crc32c(crc, out, i << blockShift, blockSize);
            if (actual != range.crc[i] && actual != range.previousCrc[i]) {
                // a race with an overwrite in place, or damage: read() decides
                pointerCache.clear(volume.id, first + i);
                return false;
            }
        }
        return true;
    }

    /**
     * {@link #readRange} under the stripe locks of the blocks read, which writes that overwrite in
     * place hold until their bytes are written: a checksum that fails here is a damaged block.
     */
    private void readRangeExclusive(Volume volume, long epoch, long offset, ByteBuffer out, int length) {
        long end = offset + length;
        for (long at = offset; at < end; ) {
            long next = Math.min(end, ((at >>> blockShift) + MAX_BATCH_BLOCKS) << blockShift);
            int[] stripes = lockStripes(volume, at >>> blockShift, (next - 1) >>> blockShift);
            try {
                readRange(volume, epoch, at, out, (int) (at - offset), (int) (next - at));
            } finally {
                unlockStripes(stripes);
            }
            at = next;
        }
    }

    /** Writes at the head epoch. Durable after the next {@link #flush}; survives a process kill at once. */
    public void write(Volume volume, long offset, ByteBuffer src) {
        write(volume, HEAD, offset, src);
    }

    /**
     * Writes at {@code epoch}: {@link #HEAD}, the head epoch, or an epoch a cut sealed after this
     * write was admitted (a write the group barrier's epoch gate tagged before the cut, applied
     * after it). The caller orders such late writes: no write at a newer epoch may have touched
     * the same blocks before them, or a read-modify-write would lose one of the two (the epoch
     * gate holds newer writes back until the older ones finish).
     */
    public void write(Volume volume, long epoch, long offset, ByteBuffer src) {
        enter();
        try {
            int length = src.remaining();
            volume.headLock.readLock().lock();
            try {
                checkAlive(volume);
                long target = writableEpoch(volume, epoch);
                checkRange(volume, offset, length, volume.sizeBytes);
                spaceGuard.admit(length);
                if (length > 0) {
                    writeRange(volume, target, offset, offset + length, src.slice(), BlockValue.ZERO);
                }
            } finally {
                volume.headLock.readLock().unlock();
            }
        } finally {
            exit();
        }
    }

    /**
     * Writes at the head as {@link #write(Volume, long, long, ByteBuffer)} would, but only if that
     * needs no waiting: whole {@link PointerCache#RUN_BLOCKS}-block groups of data (no block all
     * zeros), at most {@link #MAX_BATCH_BLOCKS} blocks, each group overwriting in place the run a
     * previous write of it left ({@link #knownRuns}), their CRC table slots in the page cache and
     * written by this session, no lock held by anyone else, and room for dirty pages in the page
     * cache ({@link WriteBackRoom}). That is the steady state of a sequential rewrite, the one
     * where a write is nothing but copies into the page cache. Returns false, with nothing
     * changed, when the caller must call {@code write} instead, on a thread that may wait; that is
     * also the answer for anything {@code write} would report as an error. Overwrites allocate
     * nothing, so no free space is checked. {@code epoch} is as for {@code write}; only the head
     * epoch is overwritten in place.
     */
    public boolean writeNoWait(Volume volume, long epoch, long offset, ByteBuffer src) {
        int length = src.remaining();
        int groupBytes = PointerCache.RUN_BLOCKS << blockShift;
        if (!overwriteInPlace || length == 0 || length > MAX_BATCH_BLOCKS << blockShift || !src.isDirect()
                || offset % groupBytes != 0 || length % groupBytes != 0 || !writeBackRoom.hasRoom(length)) {
            return false;
        }
        enter();
        try {
            java.util.concurrent.locks.Lock head = volume.headLock.readLock();
            if (!head.tryLock()) {
                return false;
            }
            try {
                if (volume.deleted || offset < 0 || offset > volume.sizeBytes - length
                        || (epoch != HEAD && epoch != volume.headEpoch)) {
                    return false;
                }
                return overwriteNoWait(volume, volume.headEpoch, offset >>> blockShift, length >>> blockShift, src.slice());
            } finally {
                head.unlock();
            }
        } finally {
            exit();
        }
    }

    /** For tests: where {@link #writeNoWait} learns whether the page cache has room. */
    void useWriteBackRoom(WriteBackRoom room) {
        this.writeBackRoom = room;
    }

    /**
     * {@link #writeNoWait} of {@code count} blocks from {@code first}, under the head lock: the
     * steps of {@link #writeRangeToLog} for a batch that is all overwrites of known runs (CRCs,
     * current CRCs from the table, table slots, bytes; no pointer changes), after every check
     * that may refuse it and before anything is changed.
     */
    private boolean overwriteNoWait(Volume volume, long epoch, long first, int count, ByteBuffer src) {
        WriteContext context = writeContexts.get();
        for (int i = 0; i < count; i++) {
            context.blocks[i] = first + i;
        }
        int[] stripes = tryLockStripes(volume, first, first + count - 1);
        if (stripes == null) {
            return false;
        }
        // held through the writes too: their own read lock on the value log is then taken
        // reentrantly, which never waits behind a segment removal queued meanwhile
        java.util.concurrent.locks.Lock removal = valueLog.readLock();
        if (!removal.tryLock()) {
            unlockStripes(stripes);
            return false;
        }
        boolean changing = false;
        boolean written = false;
        try {
            if (!knownRuns(context, volume, epoch, count)
                    || assignSlots(context, count, Math.max(1, MIN_OVERWRITE_RUN_BYTES >> blockShift)) < count) {
                return false;
            }
            for (int i = 0; i < count; i++) {
                int at = i << blockShift;
                int crc = crc32c(context.crc, src, at, blockSize);
                if (crc == zeroBlockCrc && src.slice(at, blockSize).mismatch(zeroBlock) == -1) {
                    return false; // becomes a ZERO marker, which goes to RocksDB
                }
                context.newCrc[i] = crc;
                context.sourceIndex[i] = at;
            }
            if (!currentCrcsNoWait(context, count)) {
                return false;
            }
            changing = true;
            try {
                writeTables(context, count, session);
                overwriteInLog(context, src, count);
            } catch (StoreException e) {
                forgetSession(context, count, e);
                throw e;
            }
            written = true;
            noWaitWrites.increment();
            return true;
        } finally {
            if (changing) {
                pointerCache.clear(volume.id, first, first + count - 1);
            }
            if (written) {
                cacheWritten(context, volume, epoch, count, null);
                rememberRuns(context, volume, epoch, count, first, first + count - 1);
            }
            removal.unlock();
            unlockStripes(stripes);
        }
    }

    /**
     * {@link #currentCrcs} for a batch of known runs (all overwritten, all in the table) when the
     * table slots are in the page cache and every block's CRCs can be trusted without reading its
     * bytes: false otherwise, with nothing waited for. Under the value log's read lock.
     */
    private boolean currentCrcsNoWait(WriteContext context, int data) {
        ByteBuffer slots = context.tableSlots;
        for (int i = 0; i < data; ) {
            int end = overwrittenRunEnd(context, data, i);
            slots.clear().limit((end - i) * ValueLog.TABLE_SLOT_BYTES);
            if (!valueLog.readTableNoWait(context.targetSegment[i], context.targetPosition[i] >>> blockShift, slots)) {
                return false;
            }
            for (int k = i; k < end; k++) {
                int at = (k - i) * ValueLog.TABLE_SLOT_BYTES;
                int crc = slots.getInt(at);
                if (crc != slots.getInt(at + 4) && slots.getInt(at + 8) != session) {
                    return false; // its bytes may be what it replaced: only reading them tells
                }
                context.previousCrc[k] = crc;
            }
            i = end;
        }
        return true;
    }

    /**
     * Makes a range read as zeros. Blocks that already read as holes stay holes; the store is
     * thin and never allocates to write zeros.
     */
    public void writeZeroes(Volume volume, long offset, long length) {
        zeroRange(volume, HEAD, offset, length, BlockValue.ZERO);
    }

    /** {@link #writeZeroes(Volume, long, long)} at an epoch, as {@link #write(Volume, long, long, ByteBuffer)}. */
    public void writeZeroes(Volume volume, long epoch, long offset, long length) {
        zeroRange(volume, epoch, offset, length, BlockValue.ZERO);
    }

    /** Discards a range: whole blocks become holes, the parts of partial blocks read as zeros. */
    public void trim(Volume volume, long offset, long length) {
        zeroRange(volume, HEAD, offset, length, BlockValue.HOLE);
    }

    /** {@link #trim(Volume, long, long)} at an epoch, as {@link #write(Volume, long, long, ByteBuffer)}. */
    public void trim(Volume volume, long epoch, long offset, long length) {
        zeroRange(volume, epoch, offset, length, BlockValue.HOLE);
    }

    /** Makes every write acknowledged before this call durable (a WAL sync, grouped with others). */
    public void flush() {
        enter();
        try {
            walSync.sync();
        } finally {
            exit();
        }
    }

    // ---------------------------------------------------------------- maps

    /**
     * What each part of {@code [offset, offset + length)} holds at {@code epoch} ({@link #HEAD}: the
     * newest versions, whatever the head epoch while the scan runs), in order and merged, clipped to
     * the range. Costs a scan of the range's keys, never of the volume.
     */
    public List<Extent> extents(Volume volume, long epoch, long offset, long length) {
        enter();
        try {
            checkRange(volume, offset, length, readableSize(volume, epoch));
            List<Extent> out = new ArrayList<>();
            if (length > 0) {
                collectExtents(volume, epoch, offset, length, out);
            }
            return out;
        } finally {
            exit();
        }
    }

    /**
     * Blocks of a volume written after {@code fromEpoch} up to and including {@code toEpoch}:
     * a superset of the blocks whose content differs between the two epochs, from the dirty index
     * without a scan of the volume. {@code fromEpoch} 0 means "since the volume was created"
     * (for a clone: since it was cloned).
     */
    public Roaring64Bitmap changedBlocks(Volume volume, long fromEpoch, long toEpoch) {
        enter();
        try {
            synchronized (catalogLock) {
                checkAlive(volume);
                if (fromEpoch != 0) {
                    requireRetained(volume, fromEpoch);
                }
                requireRetained(volume, toEpoch);
            }
            if (fromEpoch >= toEpoch) {
                throw new InvalidRequestException("fromEpoch " + fromEpoch + " must be older than toEpoch " + toEpoch);
            }
            return dirtyBlocks(volume, fromEpoch + 1, toEpoch);
        } finally {
            exit();
        }
    }

    // ---------------------------------------------------------------- garbage collection

    /**
     * Runs the collector over every pending release now, without its rate limit, then a forced
     * round of the value log's cleaner: when no writes run meanwhile, the log holds live data only
     * afterwards.
     */
    public GcStats collectGarbage() {
        GcStats stats = collectPending(Long.MAX_VALUE);
        cleanValueLog(Long.MAX_VALUE, true);
        return stats;
    }

    /**
     * A round of the value log's cleaner if one is due ({@link LogCleaner}). Under the collector's
     * lock, so that no version the collector deletes is brought back by a relocation.
     */
    LogCleaner.Stats cleanValueLog(long entriesPerSecond, boolean force) {
        enter();
        gcLock.lock();
        try {
            return cleaner.clean(entriesPerSecond, force);
        } finally {
            gcLock.unlock();
            exit();
        }
    }

    /**
     * Lays the blocks of a {@link Defragmenter.Request} out in block order: copies the versions a
     * read of the head sees there (those whose pointer holds its own CRCs, of whatever epoch) to
     * the active segment, for {@link #defragmentSwap} to swap their pointers where they did not
     * change meanwhile. Nothing when the store is short of space or the blocks are not scattered
     * any more. Returns the blocks copied.
     */
    long defragment(Defragmenter.Request request, LogMover mover) {
        Volume volume = byId.get(request.volumeId());
        if (volume == null || volume.deleted || volume.headEpoch != request.epoch()) {
            return 0;
        }
        enter();
        try {
            return defragmentHead(volume, request, mover);
        } catch (RuntimeException e) {
            mover.clear();
            throw e;
        } finally {
            exit();
        }
    }

    private long defragmentHead(Volume volume, Defragmenter.Request request, LogMover mover) {
        long copied = 0;
        // as a read: from the iterator's creation until the bytes are copied, the cleaner removes
        // no segment (the iterator's view could show a pointer into one removed before it)
        valueLog.readLock().lock();
        try (BlockCursor cursor = new BlockCursor(rocks.db.newIterator(rocks.blocks, rocks.readOptions))) {
            // a batch's worth of blocks at a time, each judged on its own
            for (long first = request.first(); first <= request.last(); first += LogMover.BATCH_BLOCKS) {
                long last = Math.min(request.last(), first + LogMover.BATCH_BLOCKS - 1);
                int runs = collectPointers(volume, request.epoch(), first, last, cursor, mover);
                int count = mover.count();
                if (Defragmenter.worthMoving(count, runs) && spaceGuard.tryAdmit((long) count << blockShift)) {
                    mover.copy();
                    copied += count;
                } else {
                    mover.clear();
                }
            }
        } finally {
            valueLog.readLock().unlock();
        }
        return copied;
    }

    /**
     * Adds the versions a read at {@code epoch} sees of blocks {@code [first, last]} whose pointers
     * hold their own CRCs to the mover; returns in how many runs they lie in the log.
     */
    private int collectPointers(Volume volume, long epoch, long first, long last, BlockCursor cursor, LogMover mover) {
        int runs = 0;
        int previousSegment = -1;
        long previousPosition = 0;
        for (long block = first; block <= last; block++) {
            cursor.seek(volume.id, block, epoch);
            if (!cursor.at(volume.id, block)) {
                continue;
            }
            byte[] value = cursor.it.value();
            if (!ValueLog.Pointer.isPointer(value.length) || ValueLog.Pointer.inTable(value.length)) {
                continue;
            }
            ByteBuffer pointer = ByteBuffer.wrap(value);
            int segment = ValueLog.Pointer.segment(pointer, 0);
            long position = ValueLog.Pointer.position(pointer, 0);
            runs += segment == previousSegment && position == previousPosition + blockSize ? 0 : 1;
            previousSegment = segment;
            previousPosition = position;
            mover.add(cursor.it.key(), value);
        }
        return runs;
    }

    /**
     * Swaps the pointers of what {@link #defragment} copied (see {@link LogMover#swap}): those of
     * the head epoch at once, the others under the collector's lock if it is free (a collector
     * pass or cleaner round holds it for long; their copies are then left as garbage). Returns how
     * many moved.
     */
    long defragmentSwap(LogMover mover) {
        enter();
        try {
            return mover.swap(gcLock);
        } finally {
            exit();
        }
    }

    /** Runs the defragmentation requests waiting now on the calling thread (tests); returns the blocks moved. */
    long defragmentPending() {
        return defragmenter.runPending();
    }

    /** Writes {@link #writeNoWait} did (rather than declined) since the store was opened. */
    public long noWaitWrites() {
        return noWaitWrites.sum();
    }

    /** Blocks moved by the defragmenter since the store was opened. */
    public long defragmentedBlocks() {
        return defragmenter.movedBlocks();
    }

    /** Bytes in the value log's segments, live or not. */
    public long valueLogBytes() {
        return valueLog.totalBytes();
    }

    /** Bytes of the value log that some block version points at (a scan of every pointer). */
    public long liveValueLogBytes() {
        enter();
        try {
            return cleaner.liveBytes(valueLog.allSegments(), new Pacer(Long.MAX_VALUE)).values().stream()
                    .mapToLong(Long::longValue).sum();
        } finally {
            exit();
        }
    }

    /**
     * Replaces the values of block versions {@code keys[from, to)} (all of one volume) with
     * {@code replacements} where they are still {@code expected}, in one batch under the blocks'
     * stripe locks and the volume's head lock (writes and deletion of the volume cannot
     * interleave); for the value log's cleaner and the defragmenter. A version the collector
     * deleted must not come back: the caller holds the collector's lock, or asks for
     * {@code headOnly}, versions of the head epoch (checked under the head lock), which the
     * collector never deletes. Sets {@code replaced[i]} for each that was; returns how many.
     */
    int replaceValues(byte[][] keys, byte[][] expected, byte[][] replacements, boolean[] replaced, int from, int to,
            boolean headOnly) {
        java.util.Arrays.fill(replaced, from, to, false);
        Volume volume = byId.get(BlockKey.volumeId(ByteBuffer.wrap(keys[from])));
        if (volume == null) {
            return 0;
        }
        volume.headLock.readLock().lock();
        try {
            if (volume.deleted) {
                return 0;
            }
            int[] stripes = new int[to - from];
            for (int i = from; i < to; i++) {
                stripes[i - from] = stripeIndex(volume, BlockKey.blockIndex(ByteBuffer.wrap(keys[i])));
            }
            stripes = lockInOrder(stripes);
            try {
                List<byte[]> current = rocks.db.multiGetAsList(rocks.scanOptions,
                        java.util.Collections.nCopies(to - from, rocks.blocks), java.util.Arrays.asList(keys).subList(from, to));
                int count = 0;
                try (WriteBatch batch = new WriteBatch()) {
                    for (int i = from; i < to; i++) {
                        if (java.util.Arrays.equals(current.get(i - from), expected[i])
                                && (!headOnly || BlockKey.epoch(ByteBuffer.wrap(keys[i])) == volume.headEpoch)) {
                            batch.put(rocks.blocks, keys[i], replacements[i]);
                            replaced[i] = true;
                            count++;
                        }
                    }
                    if (count > 0) {
                        commit(batch);
                    }
                }
                for (int i = from; i < to; i++) {
                    if (replaced[i]) {
                        cacheReplaced(volume, keys[i], replacements[i]);
                    }
                }
                return count;
            } catch (RocksDBException e) {
                throw storeFailure("relocating blocks of " + volume.name, e);
            } finally {
                unlockStripes(stripes);
            }
        } finally {
            volume.headLock.readLock().unlock();
        }
    }

    /** After a relocation: the block's new pointer replaces what the cache held, as a write puts its own. */
    private void cacheReplaced(Volume volume, byte[] key, byte[] replacement) {
        ByteBuffer keyBuffer = ByteBuffer.wrap(key);
        long block = BlockKey.blockIndex(keyBuffer);
        pointerCache.clear(volume.id, block);
        if (BlockKey.epoch(keyBuffer) == volume.headEpoch && ValueLog.Pointer.isPointer(replacement.length)
                && !ValueLog.Pointer.inTable(replacement.length)) {
            ByteBuffer pointer = ByteBuffer.wrap(replacement);
            long crcs = crcs(pointer, 0, replacement.length);
            pointerCache.put(volume.id, block, volume.headEpoch, ValueLog.Pointer.segment(pointer, 0),
                    ValueLog.Pointer.position(pointer, 0), (int) (crcs >>> 32), (int) crcs);
        }
    }

    /**
     * Waits until every write that holds stripe locks now has finished: takes and drops each
     * stripe lock once. A write overwriting in place holds its stripes from before it checks
     * {@link ValueLog#isCleaning} until its bytes are written, so after this no overwrite that
     * checked before a {@link ValueLog#markCleaning} is still running.
     */
    void awaitOverwrites() {
        for (ReentrantLock stripe : blockLocks) {
            stripe.lock();
            stripe.unlock();
        }
    }

    /** Makes everything written so far durable: the value log, then the WAL (for the cleaner; no closed check). */
    void syncAll() {
        walSync.sync();
    }

    /** Statistics of collector passes. */
    public record GcStats(long versionsExamined, long versionsDeleted, long tasksDone) {
        GcStats plus(GcStats other) {
            return new GcStats(versionsExamined + other.versionsExamined, versionsDeleted + other.versionsDeleted,
                    tasksDone + other.tasksDone);
        }
    }

    /** Totals of every collector pass since the store was opened. */
    public GcStats collectorTotals() {
        return gcTotals;
    }

    /** Collections waiting for the collector (after releases, clone deletions and some cuts). */
    public int pendingReleases() {
        synchronized (catalogLock) {
            return gcTasks.size();
        }
    }

    /**
     * Work for the collector: examine the blocks of a volume written in epochs
     * {@code [fromEpoch, toEpoch]} ({@code Long.MAX_VALUE}: through the head).
     */
    record GcTask(long volumeId, long fromEpoch, long toEpoch) {
        byte[] key() {
            return CatalogKey.gcTask(volumeId, fromEpoch, toEpoch);
        }
    }

    GcStats collectPending(long blocksPerSecond) {
        enter();
        gcLock.lock();
        try {
            Pacer pacer = new Pacer(blocksPerSecond);
            List<GcTask> tasks;
            synchronized (catalogLock) {
                tasks = new ArrayList<>(gcTasks);
            }
            long examined = 0;
            long deleted = 0;
            long done = 0;
            for (GcTask task : tasks) {
                if (closed) {
                    break;
                }
                Volume volume = byId.get(task.volumeId());
                long[] counts = volume == null ? new long[2] : collectTask(volume, task, pacer);
                examined += counts[0];
                deleted += counts[1];
                synchronized (catalogLock) {
                    try {
                        rocks.db.delete(rocks.catalog, rocks.writeOptions, task.key());
                    } catch (RocksDBException e) {
                        throw storeFailure("finishing collection " + task, e);
                    }
                    gcTasks.remove(task);
                    // counted as the task leaves: once pendingReleases() shows it gone, the totals have it
                    gcTotals = gcTotals.plus(new GcStats(counts[0], counts[1], 1));
                }
                done++;
            }
            if (deleted > 0) {
                log.debug("collector: examined {} versions, deleted {}, tasks {}", examined, deleted, done);
                cleaner.hintGarbage();
            }
            return new GcStats(examined, deleted, done);
        } finally {
            gcLock.unlock();
            exit();
        }
    }

    /**
     * Deletes unreachable versions of the blocks a task names. The decision per block uses the
     * full set of kept epochs, so it is right whatever scheduled the task. Safe against concurrent
     * writes and cuts: the kept set is taken after the iterator's implicit snapshot, so an epoch
     * retained later is newer than every version the iterator sees (see docs/store.md).
     */
    private long[] collectTask(Volume volume, GcTask task, Pacer pacer) {
        if (volume.deleted) {
            return new long[2];
        }
        Roaring64Bitmap candidates = dirtyBlocks(volume, task.fromEpoch(), task.toEpoch());
        long examined = 0;
        long deleted = 0;
        var blocks = candidates.getLongIterator();
        long[] chunk = new long[4096];
        while (blocks.hasNext() && !closed && !volume.deleted) {
            int n = 0;
            while (n < chunk.length && blocks.hasNext()) {
                chunk[n++] = blocks.next();
            }
            long[] counts = collectBlocks(volume, chunk, n);
            examined += counts[0];
            deleted += counts[1];
            pacer.pace(counts[0]);
        }
        return new long[] {examined, deleted};
    }

    private long[] collectBlocks(Volume volume, long[] chunk, int n) {
        long headBefore = volume.headEpoch;
        long examined = 0;
        long deleted = 0;
        try (RocksIterator it = rocks.db.newIterator(rocks.blocks, rocks.scanOptions);
             WriteBatch batch = new WriteBatch()) {
            // the iterator's view is fixed at its creation, before the kept set is read
            long[] kept;
            synchronized (catalogLock) {
                if (volume.deleted) {
                    return new long[2];
                }
                kept = keptEpochs(volume);
            }
            boolean mayDropHoles = volume.parent == null;
            byte[] key = new byte[BlockKey.LENGTH];
            ByteBuffer keyBuffer = ByteBuffer.wrap(key);
            byte[] marker = new byte[1];
            long[] epochs = new long[16];
            for (int c = 0; c < n; c++) {
                long block = chunk[c];
                int versions = 0;
                it.seek(BlockKey.encode(volume.id, block, Long.MAX_VALUE));
                for (; it.isValid(); it.next()) {
                    it.key(key);
                    if (BlockKey.volumeId(keyBuffer) != volume.id || BlockKey.blockIndex(keyBuffer) != block) {
                        break;
                    }
                    if (versions == epochs.length) {
                        epochs = java.util.Arrays.copyOf(epochs, versions * 2);
                    }
                    epochs[versions++] = BlockKey.epoch(keyBuffer);
                }
                checkStatus(it);
                examined += versions;
                // newest first: a version is kept when some kept epoch lies in [epoch, newer)
                boolean[] keep = new boolean[versions];
                long newer = Long.MAX_VALUE;
                for (int i = 0; i < versions; i++) {
                    keep[i] = anyIn(kept, epochs[i], newer);
                    newer = epochs[i];
                }
                // without a parent, a trimmed oldest survivor reads exactly like no version at all;
                // only its value is read (values are large, keys are what the scan needs)
                for (int i = versions - 1; mayDropHoles && i >= 0; i--) {
                    if (!keep[i]) {
                        continue;
                    }
                    it.seek(BlockKey.encode(volume.id, block, epochs[i]));
                    boolean hole = it.isValid() && it.value(marker) == BlockValue.MARKER_LENGTH
                            && marker[0] == BlockValue.HOLE;
                    checkStatus(it);
                    if (hole && epochs[i] < headBefore) {
                        keep[i] = false;
                    } else {
                        break;
                    }
                }
                for (int i = 0; i < versions; i++) {
                    if (!keep[i]) {
                        batch.delete(rocks.blocks, BlockKey.encode(volume.id, block, epochs[i]));
                        batch.delete(rocks.dirty, DirtyKey.encode(volume.id, epochs[i], block));
                        deleted++;
                    }
                }
            }
            if (batch.count() > 0) {
                commit(batch);
            }
        } catch (RocksDBException e) {
            throw storeFailure("collecting garbage of " + volume.name, e);
        }
        return new long[] {examined, deleted};
    }

    /** The epochs a block has versions in, newest first (for tests of the collector). */
    List<Long> versionsOf(Volume volume, long block) {
        List<Long> epochs = new ArrayList<>();
        byte[] key = new byte[BlockKey.LENGTH];
        ByteBuffer keyBuffer = ByteBuffer.wrap(key);
        try (RocksIterator it = rocks.db.newIterator(rocks.blocks, rocks.scanOptions)) {
            for (it.seek(BlockKey.encode(volume.id, block, Long.MAX_VALUE)); it.isValid(); it.next()) {
                it.key(key);
                if (BlockKey.volumeId(keyBuffer) != volume.id || BlockKey.blockIndex(keyBuffer) != block) {
                    break;
                }
                epochs.add(BlockKey.epoch(keyBuffer));
            }
            checkStatus(it);
        }
        return epochs;
    }

    /** Retained and pinned epochs and the head, sorted. Under the catalog lock. */
    private static long[] keptEpochs(Volume volume) {
        long[] kept = new long[volume.retained.size() + volume.pins.size() + 1];
        int i = 0;
        for (long epoch : volume.retained.keySet()) {
            kept[i++] = epoch;
        }
        for (long epoch : volume.pins.keySet()) {
            kept[i++] = epoch;
        }
        kept[i] = volume.headEpoch;
        java.util.Arrays.sort(kept);
        return kept;
    }

    /** Whether a sorted array holds a value in {@code [from, to)}. */
    private static boolean anyIn(long[] sorted, long from, long to) {
        int at = java.util.Arrays.binarySearch(sorted, from);
        int index = at >= 0 ? at : -at - 1;
        return index < sorted.length && sorted[index] < to;
    }

    private Roaring64Bitmap dirtyBlocks(Volume volume, long fromEpochInclusive, long toEpochInclusive) {
        Roaring64Bitmap blocks = new Roaring64Bitmap();
        byte[] key = new byte[DirtyKey.LENGTH];
        ByteBuffer keyBuffer = ByteBuffer.wrap(key);
        try (RocksIterator it = rocks.db.newIterator(rocks.dirty, rocks.scanOptions)) {
            for (it.seek(DirtyKey.encode(volume.id, fromEpochInclusive, 0)); it.isValid(); it.next()) {
                it.key(key);
                if (DirtyKey.volumeId(keyBuffer) != volume.id || DirtyKey.epoch(keyBuffer) > toEpochInclusive) {
                    break;
                }
                blocks.addLong(DirtyKey.blockIndex(keyBuffer));
            }
            checkStatus(it);
        }
        return blocks;
    }

    // ---------------------------------------------------------------- lifecycle

    /**
     * Stops the collector, waits for calls in flight, syncs the WAL and closes RocksDB.
     * Idempotent; later calls fail with {@link StoreException}.
     */
    @Override
    public void close() {
        // first, while the store is open: a request it is in the middle of finishes (or its
        // copies are dropped) instead of failing on a closed store; idempotent
        defragmenter.stop();
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        collector.stop();
        long waitingSince = System.nanoTime();
        long nextWarning = waitingSince + 5_000_000_000L;
        while (inFlight.get() > 0) {
            if (System.nanoTime() > nextWarning) {
                log.warn("closing {}: still waiting for {} calls in flight after {} s", dir, inFlight.get(),
                        (System.nanoTime() - waitingSince) / 1_000_000_000L);
                nextWarning += 5_000_000_000L;
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                log.warn("interrupted while closing {}; still waiting for calls in flight", dir);
            }
        }
        try {
            walSync.sync();
        } catch (StoreException e) {
            log.error("final sync of {} failed", dir, e);
        }
        for (WriteContext context : allWriteContexts) {
            context.close();
        }
        walSync.close();
        try {
            rocks.close();
        } finally {
            valueLog.close();
        }
        log.info("closed store at {}", dir);
    }

    /** A RocksDB integer property of the blocks family, such as {@code rocksdb.estimate-num-keys}. */
    public long blocksProperty(String name) {
        return longProperty(rocks.blocks, name);
    }

    /** A RocksDB integer property of the dirty index, for tests. */
    long dirtyIndexProperty(String name) {
        return longProperty(rocks.dirty, name);
    }

    private long longProperty(org.rocksdb.ColumnFamilyHandle family, String name) {
        enter();
        try {
            return rocks.db.getLongProperty(family, name);
        } catch (RocksDBException e) {
            throw storeFailure("reading property " + name, e);
        } finally {
            exit();
        }
    }

    // ---------------------------------------------------------------- internals: reads

    /**
     * Fills {@code out[outPos, outPos + length)} with the volume's bytes at {@code offset} as of
     * {@code epoch}. One iterator walks the range: the newest version at or below the epoch of
     * each block is found by a seek, or by {@code next()} when the previous block's key leads
     * straight to it (the common case of a range written in one epoch). Blocks with no version
     * fall through to the parent after the walk.
     */
    private void readRange(Volume volume, long epoch, long offset, ByteBuffer out, int outPos, int length) {
        valueLog.readLock().lock();
        try {
            readRangeLocked(volume, epoch, offset, out, outPos, length);
        } finally {
            valueLog.readLock().unlock();
        }
    }

    private void readRangeLocked(Volume volume, long epoch, long offset, ByteBuffer out, int outPos, int length) {
        long first = offset >>> blockShift;
        long last = (offset + length - 1) >>> blockShift;
        // the head epoch this read sees: a cut meanwhile must not make an explicit epoch read a newer one
        long headEpoch = epoch == HEAD ? volume.headEpoch : epoch;
        boolean head = headEpoch == volume.headEpoch;
        if (length == blockSize && first == last && out.isDirect() && head
                && readHeadBlock(volume, headEpoch, first, out, outPos)) {
            return;
        }
        if (head && first != last && ((offset | length) & (blockSize - 1)) == 0
                && readHeadFromCache(volume, headEpoch, first, last, out, outPos)) {
            return;
        }
        Gaps gaps = null;
        ReadOptions options = length >= Rocks.LONG_READ_BYTES ? rocks.scanOptions : rocks.readOptions;
        LogRun run = null;
        try (BlockCursor cursor = new BlockCursor(rocks.db.newIterator(rocks.blocks, options))) {
            for (long block = first; block <= last; block++) {
                long blockStart = block << blockShift;
                int from = (int) Math.max(0, offset - blockStart);
                int to = (int) Math.min(blockSize, offset + length - blockStart);
                int at = outPos + (int) (blockStart + from - offset);
                cursor.seek(volume.id, block, epoch);
                if (cursor.at(volume.id, block)) {
                    run = copyValue(cursor.it, out, at, from, to - from, run);
                    if (block == last) {
                        break;
                    }
                    cursor.next();
                } else if (volume.parent == null) {
                    zero(out, at, to - from);
                } else {
                    gaps = Gaps.add(gaps, blockStart + from, at, to - from);
                }
            }
            if (run != null) {
                run.read();
                if (head && Defragmenter.isScattered((int) (last - first + 1), run.reads)) {
                    defragmenter.request(volume.id, headEpoch, first, last);
                }
            }
        }
        for (int i = 0; gaps != null && i < gaps.count; i++) {
            readParent(volume, gaps.offset[i], out, gaps.at[i], gaps.length[i]);
        }
    }

    /**
     * Whole blocks of the head by their pointers in the {@link PointerCache} (writes put the
     * pointers they write, reads those they look up), without an iterator: the few blocks it
     * misses are looked up one by one in the head epoch. False, with nothing read, when more than
     * {@link #MAX_CACHE_MISS_PERMILLE} per mille miss or a missed block has no version in the head
     * epoch (the caller walks the versions). Read as the walk reads them: one pread per run of
     * blocks next to each other in a segment, every block checked against its CRCs. A block that
     * fails them clears the range from the cache and the read is repeated through RocksDB, which
     * decides (a race with an overwrite in place, or damage).
     */
    private boolean readHeadFromCache(Volume volume, long epoch, long first, long last, ByteBuffer out, int outPos) {
        int count = (int) (last - first + 1);
        CachedRange range = cachedRanges.get().ensure(count);
        PointerCache.Hit hit = cacheHits.get();
        int misses = 0;
        for (int i = 0; i < count; i++) {
            if (pointerCache.get(volume.id, first + i, epoch, hit)) {
                range.segment[i] = hit.segment;
                range.position[i] = hit.position;
                range.crc[i] = hit.crc;
                range.previousCrc[i] = hit.previousCrc;
            } else if (++misses * 1000L > (long) count * MAX_CACHE_MISS_PERMILLE) {
                return false;
            } else {
                range.segment[i] = CachedRange.MISSED;
            }
        }
        for (int i = 0; misses > 0 && i < count; i++) {
            if (range.segment[i] == CachedRange.MISSED && !lookUpHead(volume, first + i, epoch, range, i)) {
                return false;
            }
        }
        LogRun run = new LogRun(out);
        try {
            for (int i = 0; i < count; i++) {
                int at = outPos + (i << blockShift);
                if (range.segment[i] == CachedRange.ZEROES) {
                    zero(out, at, blockSize);
                    continue;
                }
                run.add(range.segment[i], range.position[i], at, range.crc[i], range.previousCrc[i], false);
            }
            run.read();
            if (Defragmenter.isScattered(count, run.reads)) {
                defragmenter.request(volume.id, epoch, first, last);
            }
            return true;
        } catch (ChecksumMismatch e) {
            for (long block = first; block <= last; block++) {
                pointerCache.clear(volume.id, block);
            }
            return false;
        }
    }

    /**
     * Looks up a block's version in the head epoch into entry {@code i} of {@code range}: its
     * pointer and CRCs, or {@link CachedRange#ZEROES} for a marker. False when it has none in
     * that epoch.
     */
    private boolean lookUpHead(Volume volume, long block, long epoch, CachedRange range, int i) {
        ByteBuffer key = readKeys.get().clear();
        BlockKey.encode(key, volume.id, block, epoch);
        ByteBuffer value = range.value.clear();
        int size;
        try {
            size = rocks.db.get(rocks.blocks, rocks.readOptions, key, value);
        } catch (RocksDBException e) {
            throw storeFailure("reading block " + block + " of " + volume.name, e);
        }
        if (size == BlockValue.MARKER_LENGTH) {
            range.segment[i] = CachedRange.ZEROES;
            return true;
        }
        if (!ValueLog.Pointer.isPointer(size)) {
            return false; // none, or a block kept inline: the walk reads it
        }
        long crcs = crcs(value, 0, size);
        range.segment[i] = ValueLog.Pointer.segment(value, 0);
        range.position[i] = ValueLog.Pointer.position(value, 0);
        range.crc[i] = (int) (crcs >>> 32);
        range.previousCrc[i] = (int) crcs;
        return true;
    }

    /** Per thread: the pointers {@link #readHeadFromCache} found, grown to the longest read. */
    private static final class CachedRange {
        /** A block the cache missed, to be looked up. */
        static final int MISSED = -1;
        /** A block that reads as zeros (a marker). */
        static final int ZEROES = -2;
        final ByteBuffer value = ByteBuffer.allocateDirect(ValueLog.Pointer.OVERWRITTEN_LENGTH);
        int[] segment = new int[0];
        long[] position = new long[0];
        int[] crc = new int[0];
        int[] previousCrc = new int[0];

        /** Whether block {@code i} lies right after block {@code i - 1} in the same segment. */
        boolean follows(int i, int blockSize) {
            return segment[i] == segment[i - 1] && position[i] == position[i - 1] + blockSize;
        }

        CachedRange ensure(int count) {
            if (segment.length < count) {
                segment = new int[count];
                position = new long[count];
                crc = new int[count];
                previousCrc = new int[count];
            }
            return this;
        }
    }

    /**
     * One whole block of the head ({@code epoch}: the head epoch when the read began) by a point
     * lookup of its version in that epoch, cheaper than an iterator's create, seek and close.
     * The pointer comes from the {@link PointerCache} when it
     * has it; otherwise the lookup runs under the block's stripe lock when that is free at once,
     * finds the newest older version when the head epoch has none, and puts the pointer into the
     * cache under the head epoch (if it still is the head). False when the block has no version
     * of its own at or below the head, or has none in the head epoch and the lock was busy: the
     * caller then walks the versions. Needs a direct {@code out}, as RocksDB's lookup does.
     */
    private boolean readHeadBlock(Volume volume, long epoch, long block, ByteBuffer out, int at) {
        PointerCache.Hit hit = cacheHits.get();
        if (pointerCache.get(volume.id, block, epoch, hit)) {
            ByteBuffer into = out.slice(at, blockSize);
            valueLog.read(hit.segment, hit.position, into);
            int actual = crc32c(CRCS.get(), into.flip());
            if (actual == hit.crc || actual == hit.previousCrc) {
                return true;
            }
            // a race with an overwrite in place, or damage: the lookup below decides
            pointerCache.clear(volume.id, block);
        }
        ByteBuffer key = readKeys.get().clear();
        BlockKey.encode(key, volume.id, block, epoch);
        ByteBuffer value = out.slice(at, blockSize);
        ReentrantLock stripe = blockLocks[stripeIndex(volume, block)];
        boolean locked = stripe.tryLock();
        int size;
        long crcs = 0;
        try {
            size = rocks.db.get(rocks.blocks, rocks.readOptions, key, value);
            if (size == RocksDB.NOT_FOUND && locked) {
                size = olderVersion(key, value);
            }
            if (ValueLog.Pointer.isPointer(size)) {
                crcs = crcs(value, 0, size);
                if (locked && volume.headEpoch == epoch) {
                    pointerCache.put(volume.id, block, epoch, ValueLog.Pointer.segment(value, 0),
                            ValueLog.Pointer.position(value, 0), (int) (crcs >>> 32), (int) crcs);
                }
            }
        } catch (RocksDBException e) {
            throw storeFailure("reading block " + block + " of " + volume.name, e);
        } finally {
            if (locked) {
                stripe.unlock();
            }
        }
        if (size == RocksDB.NOT_FOUND) {
            return false;
        }
        if (size == BlockValue.MARKER_LENGTH) {
            zero(out, at, blockSize);
        } else if (ValueLog.Pointer.isPointer(size)) {
            try {
                readPointed(out, at, value.clear(), crcs);
            } catch (ChecksumMismatch e) {
                pointerCache.clear(volume.id, block);
                throw e;
            }
        } else if (size != blockSize) {
            throw corruptValue(size);
        }
        return true;
    }

    /**
     * The value of the newest version of {@code key}'s block older than its epoch, into
     * {@code value}: its size, or {@link RocksDB#NOT_FOUND} when the block has none (a clone's
     * read then falls through to the parent). For a block not written since the last cut, whose
     * pointer the caller then caches under the head epoch: the head sees that version until a
     * write gives the block a newer one, and every write clears the block's slot.
     */
    private int olderVersion(ByteBuffer key, ByteBuffer value) {
        try (RocksIterator it = rocks.db.newIterator(rocks.blocks, rocks.readOptions)) {
            it.seek(key.duplicate());
            if (!it.isValid()) {
                it.status();
                return RocksDB.NOT_FOUND;
            }
            ByteBuffer found = ByteBuffer.wrap(it.key());
            if (BlockKey.volumeId(found) != BlockKey.volumeId(key) || BlockKey.blockIndex(found) != BlockKey.blockIndex(key)) {
                return RocksDB.NOT_FOUND;
            }
            return it.value(value.clear());
        } catch (RocksDBException e) {
            throw storeFailure("reading an older version of a block", e);
        }
    }

    /**
     * The CRC32C of {@code data}'s remaining bytes, through a duplicate, so that {@code data} may be
     * shared with other threads (the zero block); reads and writes use the allocation-free
     * {@link #crc32c(CRC32C, ByteBuffer, int, int)} on their own buffers.
     */
    private static int crc32c(ByteBuffer data) {
        CRC32C crc = new CRC32C();
        crc.update(data.duplicate());
        return (int) crc.getValue();
    }

    /** Per thread: a CRC32C for {@link #crc32c(CRC32C, ByteBuffer, int, int)}, looked up once per read. */
    private static final ThreadLocal<CRC32C> CRCS = ThreadLocal.withInitial(CRC32C::new);

    /**
     * The CRC32C of {@code length} bytes of {@code data} from index {@code at}, computed with
     * {@code crc} (reset first) and allocating nothing, unlike {@link #crc32c(ByteBuffer)}: a 1 MiB
     * read checks 256 blocks, on an event loop when served there. It moves {@code data}'s position
     * and limit meanwhile, so only for a buffer no other thread uses (not the zero block); they
     * are left as they were.
     */
    private static int crc32c(CRC32C crc, ByteBuffer data, int at, int length) {
        int position = data.position();
        int limit = data.limit();
        crc.reset();
        crc.update(data.limit(at + length).position(at));
        data.limit(limit).position(position);
        return (int) crc.getValue();
    }

    /** {@link #crc32c(CRC32C, ByteBuffer, int, int)} of {@code data}'s remaining bytes. */
    private static int crc32c(CRC32C crc, ByteBuffer data) {
        return crc32c(crc, data, data.position(), data.remaining());
    }

    /**
     * Reads the block the pointer of {@code size} bytes at {@code at} of {@code pointer} leads to
     * into {@code into} (which may overlap the pointer) and checks it; {@code into} is flipped.
     */
    private void readPointed(ByteBuffer pointer, int at, int size, ByteBuffer into) {
        readPointed(pointer, at, into, crcs(pointer, at, size));
    }

    /** {@link #readPointed} with the pointer's {@link #crcs} already looked up. */
    private void readPointed(ByteBuffer pointer, int at, ByteBuffer into, long crcs) {
        int segment = ValueLog.Pointer.segment(pointer, at);
        long position = ValueLog.Pointer.position(pointer, at);
        valueLog.read(segment, position, into);
        into.flip();
        checkCrc(CRCS.get(), into, into.position(), into.remaining(), (int) (crcs >>> 32), (int) crcs, segment, position);
    }

    /**
     * The CRC (high half) and previous CRC (low half) of the block a pointer of {@code size} bytes
     * at {@code at} leads to: the pointer's own, or its segment's table slot for the table form.
     * Under the value log's read lock.
     */
    private long crcs(ByteBuffer pointer, int at, int size) {
        int crc;
        int previousCrc;
        if (ValueLog.Pointer.inTable(size)) {
            ByteBuffer slot = tableSlot(ValueLog.Pointer.segment(pointer, at), ValueLog.Pointer.position(pointer, at));
            crc = slot.getInt(0);
            previousCrc = slot.getInt(4);
        } else {
            crc = ValueLog.Pointer.crc(pointer, at);
            previousCrc = ValueLog.Pointer.previousCrc(pointer, at, size);
        }
        return (long) crc << 32 | (previousCrc & 0xFFFF_FFFFL);
    }

    /** A clone's unwritten range, read from its parent at the pinned epoch; past the parent's size, zeros. */
    private void readParent(Volume volume, long offset, ByteBuffer out, int at, int length) {
        long inParent = Math.max(0, Math.min(length, volume.parentSizeBytes - offset));
        if (inParent > 0) {
            readRange(volume.parent, volume.parentEpoch, offset, out, at, (int) inParent);
        }
        for (int done = (int) inParent; done < length; ) {
            int n = Math.min(blockSize, length - done);
            zero(out, at + done, n);
            done += n;
        }
    }

    /**
     * Copies the part {@code [from, from + length)} of the block under the iterator to {@code at}.
     * Whole blocks in the value log join {@code run} (returned, maybe new), read later with one
     * pread per run of blocks that lie next to each other in a segment and in {@code out}.
     */
    private LogRun copyValue(RocksIterator it, ByteBuffer out, int at, int from, int length, LogRun run) {
        if (from == 0 && length == blockSize) {
            int size = it.value(out.slice(at, blockSize));
            if (size == BlockValue.MARKER_LENGTH) {
                zero(out, at, length);
            } else if (ValueLog.Pointer.isPointer(size)) {
                int segment = ValueLog.Pointer.segment(out, at);
                long position = ValueLog.Pointer.position(out, at);
                boolean inTable = ValueLog.Pointer.inTable(size);
                int crc = inTable ? 0 : ValueLog.Pointer.crc(out, at);
                int previousCrc = inTable ? 0 : ValueLog.Pointer.previousCrc(out, at, size);
                if (run == null) {
                    run = new LogRun(out);
                }
                run.add(segment, position, at, crc, previousCrc, inTable);
            } else if (size != blockSize) {
                throw corruptValue(size);
            }
            return run;
        }
        byte[] block = new byte[blockSize];
        int size = it.value(block);
        if (size == blockSize) {
            out.put(at, block, from, length);
        } else if (size == BlockValue.MARKER_LENGTH) {
            zero(out, at, length);
        } else if (ValueLog.Pointer.isPointer(size)) {
            ByteBuffer data = ByteBuffer.allocate(blockSize);
            readPointed(ByteBuffer.wrap(block, 0, size), 0, size, data);
            out.put(at, data, from, length);
        } else {
            throw corruptValue(size);
        }
        return run;
    }

    /**
     * Checks a block read from the log, {@code length} bytes of {@code data} from index {@code at}
     * (a buffer of this thread's: see {@link #crc32c(CRC32C, ByteBuffer, int, int)}), against its
     * pointer's CRC, or the previous one of an overwrite.
     */
    private static void checkCrc(CRC32C crc, ByteBuffer data, int at, int length, int expected, int previous,
            int segment, long position) {
        int actual = crc32c(crc, data, at, length);
        if (actual != expected && actual != previous) {
            throw new ChecksumMismatch("block data at " + position + " of value log segment " + segment
                    + " fails its checksum (crc32c " + Integer.toHexString(actual) + ", expected "
                    + Integer.toHexString(expected)
                    + (previous != expected ? " or " + Integer.toHexString(previous) : "") + ")");
        }
    }

    /** Block data that does not match its pointer's checksum. */
    private static final class ChecksumMismatch extends StoreException {
        ChecksumMismatch(String message) {
            super(message);
        }
    }

    /**
     * An iterator over the versions of ascending blocks of one volume that moves only forward and
     * seeks only when stepping does not reach the key wanted (versions of one block are next to
     * each other, newest first).
     */
    private static final class BlockCursor implements AutoCloseable {
        private static final int MAX_STEPS = 2;
        final RocksIterator it;
        private final byte[] want = new byte[BlockKey.LENGTH];
        private final ByteBuffer wantBuffer = ByteBuffer.wrap(want);
        private final byte[] current = new byte[BlockKey.LENGTH];
        private final ByteBuffer currentBuffer = ByteBuffer.wrap(current);
        private boolean valid;
        private boolean exhausted;

        BlockCursor(RocksIterator it) {
            this.it = it;
        }

        /**
         * Moves to the first key at or after {@code (volume, block, ~epoch)} unless it is there
         * already: a step or two forward when that reaches it (the next block's newest version
         * usually follows the version just read), else a seek, which costs several times more.
         */
        void seek(long volumeId, long block, long epoch) {
            if (exhausted) {
                return;
            }
            BlockKey.encode(wantBuffer, volumeId, block, epoch);
            for (int step = 0; step < MAX_STEPS && valid && java.util.Arrays.compareUnsigned(current, want) < 0; step++) {
                next();
            }
            if (!exhausted && (!valid || java.util.Arrays.compareUnsigned(current, want) < 0)) {
                it.seek(want);
                load();
            }
        }

        /** Whether the cursor is on a version of {@code block}. */
        boolean at(long volumeId, long block) {
            return blockOf(volumeId) == block;
        }

        /** The block the cursor is on, or {@link Long#MAX_VALUE} when it is past the volume's keys. */
        long blockOf(long volumeId) {
            return valid && BlockKey.volumeId(currentBuffer) == volumeId ? BlockKey.blockIndex(currentBuffer) : Long.MAX_VALUE;
        }

        /** Whether the cursor is on exactly the key of the last {@link #seek}. */
        boolean atWanted() {
            return valid && java.util.Arrays.equals(current, want);
        }

        void next() {
            it.next();
            load();
        }

        private void load() {
            valid = it.isValid();
            if (valid) {
                it.key(current);
            } else {
                checkStatus(it);
                exhausted = true;
            }
        }

        @Override
        public void close() {
            it.close();
        }
    }

    /** Whole blocks of one read that lie back to back in one segment and in the output buffer. */
    private final class LogRun {
        private final ByteBuffer out;
        private final CRC32C crc = CRCS.get();
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

        LogRun(ByteBuffer out) {
            this.out = out;
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
                crcs = java.util.Arrays.copyOf(crcs, blocks * 2);
                previousCrcs = java.util.Arrays.copyOf(previousCrcs, blocks * 2);
                inTable = java.util.Arrays.copyOf(inTable, blocks * 2);
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
                // the table slots, read before the bytes (see writeTables)
                ByteBuffer slots = ByteBuffer.allocate(blocks * ValueLog.TABLE_SLOT_BYTES);
                int first = readTableSpan(segment, position >>> blockShift, inTable, 0, blocks, slots);
                for (int i = first; i < blocks; i++) {
                    if (inTable[i]) {
                        crcs[i] = slots.getInt((i - first) * ValueLog.TABLE_SLOT_BYTES);
                        previousCrcs[i] = slots.getInt((i - first) * ValueLog.TABLE_SLOT_BYTES + 4);
                    }
                }
                tableBlocks = 0;
            }
            valueLog.read(segment, position, out.slice(at, blocks << blockShift));
            reads++;
            for (int i = 0; i < blocks; i++) {
                checkCrc(crc, out, at + (i << blockShift), blockSize, crcs[i], previousCrcs[i], segment,
                        position + ((long) i << blockShift));
            }
            blocks = 0;
        }
    }

    private StoreException corruptValue(int size) {
        return new StoreException("corrupt block value of " + size + " bytes (block size " + blockSize + ")");
    }

    private void zero(ByteBuffer out, int at, int length) {
        out.put(at, zeros, 0, length);
    }

    private void collectExtents(Volume volume, long epoch, long offset, long length, List<Extent> out) {
        long first = offset >>> blockShift;
        long last = (offset + length - 1) >>> blockShift;
        long end = offset + length;
        byte[] marker = new byte[1];
        List<Extent> own = new ArrayList<>();
        try (BlockCursor cursor = new BlockCursor(rocks.db.newIterator(rocks.blocks, rocks.readOptions))) {
            long block = first;
            while (block <= last) {
                // the cursor is at the first key >= (volume, block, ~epoch), or past the volume
                cursor.seek(volume.id, block, epoch);
                long found = cursor.blockOf(volume.id);
                if (found == block) {
                    int size = cursor.it.value(marker);
                    ExtentType type = size != BlockValue.MARKER_LENGTH ? ExtentType.DATA
                            : marker[0] == BlockValue.HOLE ? ExtentType.HOLE : ExtentType.ZERO;
                    appendExtent(own, block << blockShift, blockSize, type, offset, end);
                    block++;
                    cursor.next();
                } else {
                    // no version at or below the epoch in [block, found): one gap, however long
                    long gapEnd = Math.min(found, last + 1);
                    appendExtent(own, block << blockShift, (gapEnd - block) << blockShift, null, offset, end);
                    block = gapEnd;
                }
            }
        }
        for (Extent extent : own) {
            if (extent.type() != null) {
                merge(out, extent);
            } else if (volume.parent == null) {
                merge(out, new Extent(extent.offset(), extent.length(), ExtentType.HOLE));
            } else {
                long inParent = Math.max(0, Math.min(extent.length(), volume.parentSizeBytes - extent.offset()));
                if (inParent > 0) {
                    List<Extent> fromParent = new ArrayList<>();
                    collectExtents(volume.parent, volume.parentEpoch, extent.offset(), inParent, fromParent);
                    fromParent.forEach(e -> merge(out, e));
                }
                if (inParent < extent.length()) {
                    merge(out, new Extent(extent.offset() + inParent, extent.length() - inParent, ExtentType.HOLE));
                }
            }
        }
    }

    /** Appends a range clipped to {@code [from, to)}; a null type marks a gap to resolve later. */
    private static void appendExtent(List<Extent> out, long start, long length, ExtentType type, long from, long to) {
        long clippedStart = Math.max(start, from);
        long clippedEnd = Math.min(start + length, to);
        if (clippedEnd > clippedStart) {
            merge(out, new Extent(clippedStart, clippedEnd - clippedStart, type));
        }
    }

    private static void merge(List<Extent> out, Extent extent) {
        if (!out.isEmpty()) {
            Extent previous = out.get(out.size() - 1);
            if (previous.type() == extent.type() && previous.end() == extent.offset()) {
                out.set(out.size() - 1, new Extent(previous.offset(), previous.length() + extent.length(), extent.type()));
                return;
            }
        }
        out.add(extent);
    }

    // ---------------------------------------------------------------- internals: writes

    /**
     * Writes {@code [start, end)} of a volume at {@code epoch}: the bytes of {@code src} (read from
     * index 0), or zeros stored as {@code marker} blocks when {@code src} is null. Whole blocks are put
     * as they are (all-zero data becomes a ZERO marker); partial first and last blocks are
     * read-modify-written. Every block's stripe lock is held from before its read until its batch is
     * in RocksDB, so a read-modify-write never puts back a block another write replaced meanwhile.
     * Up to {@link #MAX_BATCH_BLOCKS} blocks go in one atomic WriteBatch.
     */
    private void writeRange(Volume volume, long epoch, long start, long end, ByteBuffer src, byte marker) {
        if (logWrites && src != null) {
            writeRangeToLog(volume, epoch, start, end, src);
            return;
        }
        long first = start >>> blockShift;
        long last = (end - 1) >>> blockShift;
        WriteContext context = writeContexts.get();
        WriteBatch batch = context.batch;
        for (long chunk = first; chunk <= last; chunk += MAX_BATCH_BLOCKS) {
            long chunkLast = Math.min(last, chunk + MAX_BATCH_BLOCKS - 1);
            int[] stripes = lockStripes(volume, chunk, chunkLast);
            try {
                clearBatch(context);
                for (long block = chunk; block <= chunkLast; block++) {
                    long blockStart = block << blockShift;
                    int from = (int) Math.max(0, start - blockStart);
                    int to = (int) Math.min(blockSize, end - blockStart);
                    boolean whole = from == 0 && to == blockSize;
                    int srcIndex = (int) (blockStart + from - start);
                    if (whole && src == null) {
                        putVersion(context, volume, block, epoch, context.marker(marker));
                    } else if (whole && src.isDirect()) {
                        putBlock(context, volume, block, epoch, src.slice(srcIndex, blockSize));
                    } else {
                        ByteBuffer value = context.block;
                        value.clear();
                        if (!whole) {
                            readRange(volume, epoch, blockStart, value, 0, blockSize);
                        }
                        if (src == null) {
                            value.put(from, zeros, 0, to - from);
                        } else {
                            value.put(from, src, srcIndex, to - from);
                        }
                        putBlock(context, volume, block, epoch, value);
                    }
                }
                commit(batch);
                committed(context, volume);
            } catch (RocksDBException e) {
                throw storeFailure("writing " + (end - start) + " bytes at " + start + " of " + volume.name, e);
            } finally {
                clearBatch(context);
                pointerCache.clear(volume.id, chunk, chunkLast);
                unlockStripes(stripes);
            }
        }
    }

    /**
     * {@link #writeRange} of data with the value log on. Per batch of blocks, under their stripe
     * locks: blocks of all zeros become ZERO markers; data blocks whose versions are already in the
     * head epoch are overwritten in place when {@link #findOverwrites} says so; the others are
     * appended to the log with one reservation. Appends are written first (one pwrite per run
     * contiguous in {@code src}), then the overwritten blocks' CRC table slots (new and old CRC,
     * one pwrite per run), then the pointers go to RocksDB in one WriteBatch (an overwritten block
     * needs one only the first time, to say its CRCs are in the table), then the overwrites are
     * written (one pwrite per run contiguous in {@code src} and in the log). The order is what a
     * crash needs: an appended block's bytes are there before its pointer, and an overwritten
     * block's old and new CRC before its pointer leads to the table and before its bytes change.
     * A partial first or last block is read-modify-written in its own buffer.
     */
    private void writeRangeToLog(Volume volume, long epoch, long start, long end, ByteBuffer src) {
        long first = start >>> blockShift;
        long last = (end - 1) >>> blockShift;
        WriteContext context = writeContexts.get();
        WriteBatch batch = context.batch;
        ByteBuffer source = src.duplicate();
        boolean mayOverwrite = overwriteInPlace && epoch == volume.headEpoch;
        for (long chunk = first; chunk <= last; chunk += MAX_BATCH_BLOCKS) {
            long chunkLast = Math.min(last, chunk + MAX_BATCH_BLOCKS - 1);
            int[] stripes = lockStripes(volume, chunk, chunkLast);
            ValueLog.Reservation reservation = null;
            int data = 0;
            int overwrites = 0;
            boolean written = false;
            try {
                clearBatch(context);
                for (long block = chunk; block <= chunkLast; block++) {
                    long blockStart = block << blockShift;
                    int from = (int) Math.max(0, start - blockStart);
                    int to = (int) Math.min(blockSize, end - blockStart);
                    int srcIndex = (int) (blockStart + from - start);
                    // a whole block is read where it is in src: no buffer object per block (a
                    // slice each was nine in ten of the bytes a 1 MiB write allocated)
                    ByteBuffer value;
                    if (from == 0 && to == blockSize) {
                        value = source.limit(srcIndex + blockSize).position(srcIndex);
                    } else {
                        value = block == first ? context.block : context.lastBlock;
                        value.clear();
                        readRange(volume, epoch, blockStart, value, 0, blockSize);
                        value.put(from, src, srcIndex, to - from);
                        srcIndex = -1;
                    }
                    // the CRC first: only a block with the zero block's CRC can be all zeros
                    int crc = context.crc32c(value);
                    if (crc == zeroBlockCrc && value.mismatch(zeroBlock) == -1) {
                        putVersion(context, volume, block, epoch, context.marker(BlockValue.ZERO));
                    } else {
                        context.newCrc[data] = crc;
                        context.values[data] = srcIndex < 0 ? value : null;
                        context.sourceIndex[data] = srcIndex;
                        context.blocks[data] = block;
                        data++;
                    }
                }
                overwrites = findOverwrites(context, volume, epoch, data, mayOverwrite);
                if (overwrites < data) {
                    reservation = valueLog.reserve((data - overwrites) << blockShift);
                    appendToLog(context, reservation, src, data);
                }
                for (int i = 0; i < data; i++) {
                    int crc = context.newCrc[i];
                    ByteBuffer pointer = context.pointer.clear();
                    if (context.slot[i] >= 0) {
                        ValueLog.Pointer.encode(pointer, reservation.segment(),
                                reservation.position() + ((long) context.slot[i] << blockShift), crc);
                        putVersion(context, volume, context.blocks[i], epoch, pointer.limit(ValueLog.Pointer.LENGTH));
                    } else if (!context.inTable[i]) {
                        // from now on its CRCs live in the segment's table, which is written first
                        ValueLog.Pointer.encodeInTable(pointer, context.targetSegment[i], context.targetPosition[i]);
                        // the version, and so its dirty-index entry, is already there
                        putValue(context, volume, context.blocks[i], epoch, pointer.limit(ValueLog.Pointer.TABLE_LENGTH));
                    }
                }
                if (overwrites > 0) {
                    try {
                        writeTables(context, data, session);
                    } catch (StoreException e) {
                        // slots may be half written while the bytes are unchanged: without this
                        // session in them, the next overwrite reads what the bytes are
                        forgetSession(context, data, e);
                        throw e;
                    }
                }
                if (batch.count() > 0) {
                    commit(batch);
                }
                committed(context, volume);
                if (overwrites > 0) {
                    try {
                        overwriteInLog(context, src, data);
                    } catch (StoreException e) {
                        forgetSession(context, data, e);
                        throw e;
                    }
                }
                written = true;
            } catch (RocksDBException e) {
                throw storeFailure("writing " + (end - start) + " bytes at " + start + " of " + volume.name, e);
            } finally {
                clearBatch(context);
                if (reservation != null) {
                    reservation.finish();
                }
                java.util.Arrays.fill(context.values, null);
                pointerCache.clear(volume.id, chunk, chunkLast);
                if (written && epoch == volume.headEpoch) {
                    cacheWritten(context, volume, epoch, data, reservation);
                }
                if (written && overwrites > 0) {
                    rememberRuns(context, volume, epoch, data, chunk, chunkLast);
                }
                unlockStripes(stripes);
            }
        }
    }

    /**
     * Finds which of the context's {@code data} blocks are overwritten in place: those whose
     * version at {@code epoch} exists and points into a segment not being cleaned, in runs of at
     * least {@link #MIN_OVERWRITE_RUN_BYTES} that are back to back in the volume and in the log.
     * Shorter runs are appended: small random overwrites in place would scatter writes over the
     * log's pages (and cost the page cache more than appends), while a sequential rewrite of data
     * scattered by them lays it out contiguously again. Where the batch's blocks are comes from
     * the runs a previous write of them left ({@link #knownRuns}), else from the pointer cache
     * when that shows no run long enough ({@link #cachedTargets}), else from RocksDB. Sets each
     * block's {@code slot} (-1: overwritten; else its index among the appended blocks) and, for
     * the overwritten, where its bytes are and their current CRC. Returns how many are overwritten.
     */
    private int findOverwrites(WriteContext context, Volume volume, long epoch, int data, boolean mayOverwrite)
            throws RocksDBException {
        int minRun = Math.max(1, MIN_OVERWRITE_RUN_BYTES >> blockShift);
        if (!mayOverwrite || data < minRun) {
            for (int i = 0; i < data; i++) {
                context.slot[i] = i;
            }
            return 0;
        }
        int overwrites;
        if (knownRuns(context, volume, epoch, data)) {
            overwrites = assignSlots(context, data, minRun);
        } else if (cachedTargets(context, volume, epoch, data) && assignSlots(context, data, minRun) == 0) {
            // the pointer cache showed cheaply that no run is long enough: all are appended, with
            // no RocksDB lookup (after random writes a sequential rewrite appends nearly all, and
            // these lookups took 18% of the store threads' CPU)
            return 0;
        } else {
            // the table flags and sessions an overwrite needs come from RocksDB
            lookUpTargets(context, volume, epoch, data);
            overwrites = assignSlots(context, data, minRun);
        }
        if (overwrites > 0) {
            currentCrcs(context, data);
        }
        return overwrites;
    }

    /**
     * Sets each of the batch's data blocks' {@code slot} from its target: -1 (overwritten in
     * place) for those in runs of at least {@code minRun} blocks back to back in the volume and
     * in one segment, else its index among the appended. Returns how many are overwritten.
     */
    private int assignSlots(WriteContext context, int data, int minRun) {
        int overwrites = 0;
        int appended = 0;
        for (int i = 0; i < data; ) {
            int end = i + 1;
            int segment = context.targetSegment[i];
            if (segment >= 0) {
                while (end < data && context.targetSegment[end] == segment
                        && context.blocks[end] == context.blocks[end - 1] + 1
                        && context.targetPosition[end] == context.targetPosition[end - 1] + blockSize) {
                    end++;
                }
            }
            boolean overwrite = segment >= 0 && end - i >= minRun;
            for (int k = i; k < end; k++) {
                context.slot[k] = overwrite ? -1 : appended++;
            }
            overwrites += overwrite ? end - i : 0;
            i = end;
        }
        return overwrites;
    }

    /**
     * Sets the targets of the batch's data blocks from the {@link PointerCache} (-1 for one in a
     * segment being cleaned), without their table flags, CRCs and sessions: enough to tell that no
     * run is long enough to overwrite, never to overwrite. A slot holds the newest version at or
     * below the head, which may be a sealed epoch's that {@link #lookUpTargets} would not count
     * (-1 there); such a block can only lengthen a run, so when no run is long enough here, none
     * is in RocksDB's view either, and appending all is what the lookups would have decided.
     * False when a block is not cached. The caller holds the blocks' stripe locks, so no entry
     * changes meanwhile.
     */
    private boolean cachedTargets(WriteContext context, Volume volume, long epoch, int data) {
        PointerCache.Hit hit = cacheHits.get();
        for (int i = 0; i < data; i++) {
            if (!pointerCache.get(volume.id, context.blocks[i], epoch, hit)) {
                return false;
            }
            context.targetSegment[i] = valueLog.isCleaning(hit.segment) ? -1 : hit.segment;
            context.targetPosition[i] = hit.position;
        }
        return true;
    }

    /**
     * Sets the targets of a batch of whole {@link PointerCache.Run} groups from the runs known
     * for them, without a RocksDB lookup; false, with nothing set, when the batch is not such
     * groups back to back or a group's run is not known at {@code epoch} or lies in a segment
     * being cleaned.
     */
    private boolean knownRuns(WriteContext context, Volume volume, long epoch, int data) {
        int group = PointerCache.RUN_BLOCKS;
        long first = context.blocks[0];
        if (first % group != 0 || data % group != 0 || context.blocks[data - 1] != first + data - 1) {
            return false;
        }
        for (int i = 0; i < data; i += group) {
            PointerCache.Run run = pointerCache.run(volume.id, (first + i) / group, epoch);
            if (run == null || valueLog.isCleaning(run.segment())) {
                return false;
            }
            context.runs[i / group] = run;
        }
        for (int i = 0; i < data; i++) {
            PointerCache.Run run = context.runs[i / group];
            context.targetSegment[i] = run.segment();
            context.targetPosition[i] = run.position() + ((long) (i % group) << blockShift);
            context.inTable[i] = true;
        }
        return true;
    }

    /**
     * After a batch of the head epoch is written (pointers committed, bytes in place): puts the
     * pointers of its data blocks into the {@link PointerCache}, so that reads of them, 4 KiB or
     * long, skip RocksDB. Under their stripe locks, after the batch's blocks were cleared.
     */
    private void cacheWritten(WriteContext context, Volume volume, long epoch, int data, ValueLog.Reservation reservation) {
        for (int i = 0; i < data; i++) {
            int crc = context.newCrc[i];
            if (context.slot[i] >= 0) {
                pointerCache.put(volume.id, context.blocks[i], epoch, reservation.segment(),
                        reservation.position() + ((long) context.slot[i] << blockShift), crc, crc);
            } else {
                pointerCache.put(volume.id, context.blocks[i], epoch, context.targetSegment[i],
                        context.targetPosition[i], crc, context.previousCrc[i]);
            }
        }
    }

    /**
     * After the batch's bytes were overwritten in place: remembers the run of each whole group
     * of its blocks that it overwrote in place back to back, for the next write of them
     * ({@link #knownRuns}). Their pointers all lead to the CRC table now. Under their stripe
     * locks, after the batch's blocks were cleared from the pointer cache.
     */
    private void rememberRuns(WriteContext context, Volume volume, long epoch, int data, long chunk, long chunkLast) {
        int group = PointerCache.RUN_BLOCKS;
        if (data != chunkLast - chunk + 1) {
            return; // zero blocks among them
        }
        for (long g = (chunk + group - 1) / group; (g + 1) * group - 1 <= chunkLast; g++) {
            int from = (int) (g * group - chunk);
            if (context.slot[from] >= 0 || overwrittenRunEnd(context, data, from) < from + group) {
                continue;
            }
            pointerCache.putRun(new PointerCache.Run(volume.id, g, epoch, context.targetSegment[from],
                    context.targetPosition[from]));
        }
    }

    /**
     * Looks up the version at {@code epoch} of each of the batch's data blocks and sets the
     * targets of those in the value log ({@code targetSegment} -1 for the others).
     */
    private void lookUpTargets(WriteContext context, Volume volume, long epoch, int data) throws RocksDBException {
        ByteBuffer value = context.found;
        try (BlockCursor cursor = new BlockCursor(rocks.db.newIterator(rocks.blocks, rocks.readOptions))) {
            for (int i = 0; i < data; i++) {
                cursor.seek(volume.id, context.blocks[i], epoch);
                context.targetSegment[i] = -1;
                if (cursor.atWanted()) {
                    value.clear();
                    int size = cursor.it.value(value);
                    if (ValueLog.Pointer.isPointer(size) && !valueLog.isCleaning(ValueLog.Pointer.segment(value, 0))) {
                        context.targetSegment[i] = ValueLog.Pointer.segment(value, 0);
                        context.targetPosition[i] = ValueLog.Pointer.position(value, 0);
                        boolean inTable = ValueLog.Pointer.inTable(size);
                        context.inTable[i] = inTable;
                        if (!inTable) {
                            context.crcNow[i] = ValueLog.Pointer.crc(value, 0);
                            context.crcBefore[i] = ValueLog.Pointer.previousCrc(value, 0, size);
                            context.writtenIn[i] = ValueLog.Pointer.session(value, 0, size);
                        }
                    }
                }
            }
        }
    }

    /**
     * Sets {@code previousCrc}, the CRC of the bytes there now, of each block overwritten in place:
     * its pointer's CRC, or its CRC table slot's (one read per run), except for one an overwrite of
     * an earlier session left, whose bytes may still be the ones it replaced (a crash between
     * pointer and bytes): those are read once to find out. Under the blocks' stripe locks.
     */
    private void currentCrcs(WriteContext context, int data) {
        valueLog.readLock().lock();
        try {
            for (int i = 0; i < data; ) {
                if (context.slot[i] >= 0) {
                    i++;
                    continue;
                }
                int end = overwrittenRunEnd(context, data, i);
                readTableSlots(context, i, end);
                for (int k = i; k < end; k++) {
                    int crc = context.crcNow[k];
                    int previous = context.crcBefore[k];
                    if (crc == previous || context.writtenIn[k] == session) {
                        context.previousCrc[k] = crc;
                    } else {
                        ByteBuffer bytes = context.scratch.clear();
                        valueLog.read(context.targetSegment[k], context.targetPosition[k], bytes);
                        context.previousCrc[k] = context.crc32c(bytes.flip()) == previous ? previous : crc;
                    }
                }
                i = end;
            }
        } finally {
            valueLog.readLock().unlock();
        }
    }

    /**
     * Reads the CRC table slots of the blocks of the run {@code [from, end)} whose CRCs are in
     * their segment's table ({@link #readTableSpan}) into {@code crcNow}, {@code crcBefore} and
     * {@code writtenIn}. Under the value log's read lock.
     */
    private void readTableSlots(WriteContext context, int from, int end) {
        ByteBuffer slots = context.tableSlots;
        int first = readTableSpan(context.targetSegment[from], context.targetPosition[from] >>> blockShift,
                context.inTable, from, end, slots);
        if (first < 0) {
            return;
        }
        for (int k = first; k < end; k++) {
            if (context.inTable[k]) {
                int at = (k - first) * ValueLog.TABLE_SLOT_BYTES;
                context.crcNow[k] = slots.getInt(at);
                context.crcBefore[k] = slots.getInt(at + 4);
                context.writtenIn[k] = slots.getInt(at + 8);
            }
        }
    }

    /**
     * Reads into {@code slots}, with one read, the CRC table slots of the blocks of a run
     * {@code [from, end)} that lie back to back in {@code segment} from slot {@code firstSlot}
     * (block {@code from}'s), from the first to the last block whose CRCs are in the table
     * ({@code inTable}): blocks between them with their own CRCs may have no slot yet, and the
     * table may end before blocks past the last. Block {@code k}'s slot is then at
     * {@code (k - first) * TABLE_SLOT_BYTES}; returns {@code first}, or -1 (nothing read) when no
     * block has one. Under the value log's read lock.
     */
    private int readTableSpan(int segment, long firstSlot, boolean[] inTable, int from, int end, ByteBuffer slots) {
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
        slots.clear().limit((last - first + 1) * ValueLog.TABLE_SLOT_BYTES);
        valueLog.readTable(segment, firstSlot + (first - from), slots);
        return first;
    }

    /**
     * After an overwrite's bytes or table slots failed to be written (old, new or torn now),
     * writes its table slots again without this session, so that a later overwrite reads what the
     * bytes really are instead of trusting that this session's overwrites finished. Best effort: a
     * failure is added to {@code failure}.
     */
    private void forgetSession(WriteContext context, int data, StoreException failure) {
        try {
            writeTables(context, data, 0);
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    /**
     * Writes the CRC table slots of the blocks the batch overwrites in place (new CRC, the CRC of
     * the bytes they replace, {@code session}), one call per run contiguous in a segment. Before
     * the batch's pointers and before the bytes: until the bytes are written, and after a crash in
     * between, the location holds what the previous CRC describes.
     */
    private void writeTables(WriteContext context, int data, int session) {
        ByteBuffer entries = context.tableEntries;
        int i = 0;
        while (i < data) {
            if (context.slot[i] >= 0) {
                i++;
                continue;
            }
            int end = overwrittenRunEnd(context, data, i);
            entries.clear();
            for (int k = i; k < end; k++) {
                entries.putInt(context.newCrc[k]).putInt(context.previousCrc[k]).putInt(session).putInt(0);
            }
            valueLog.writeTable(context.targetSegment[i], context.targetPosition[i] >>> blockShift, entries.flip());
            i = end;
        }
    }

    /** The end (exclusive) of the run of blocks overwritten in place from {@code i}: back to back in one segment. */
    private int overwrittenRunEnd(WriteContext context, int data, int i) {
        int segment = context.targetSegment[i];
        long position = context.targetPosition[i];
        int end = i + 1;
        while (end < data && context.slot[end] < 0 && context.targetSegment[end] == segment
                && context.targetPosition[end] == position + ((long) (end - i) << blockShift)) {
            end++;
        }
        return end;
    }

    /**
     * The CRC table slot of the block at {@code position} of {@code segment} (CRC, previous CRC,
     * session at 0, 4 and 8), in a per-thread buffer. Under the value log's read lock.
     */
    private ByteBuffer tableSlot(int segment, long position) {
        ByteBuffer slot = tableSlots.get().clear();
        valueLog.readTable(segment, position >>> blockShift, slot);
        return slot.flip();
    }

    /** Writes the appended data blocks to a reservation: runs contiguous in {@code src} with one call each. */
    private void appendToLog(WriteContext context, ValueLog.Reservation reservation, ByteBuffer src, int data) {
        int i = 0;
        while (i < data) {
            int slot = context.slot[i];
            if (slot < 0) {
                i++;
                continue;
            }
            int runStart = i;
            int sourceIndex = context.sourceIndex[i];
            i++;
            if (sourceIndex >= 0) {
                while (i < data && context.slot[i] == slot + (i - runStart)
                        && context.sourceIndex[i] == sourceIndex + ((i - runStart) << blockShift)) {
                    i++;
                }
                reservation.write((long) slot << blockShift, src.slice(sourceIndex, (i - runStart) << blockShift));
            } else {
                reservation.write((long) slot << blockShift, context.values[runStart].duplicate());
            }
        }
    }

    /** Overwrites the blocks found in place: runs contiguous in {@code src} and in one segment with one call each. */
    private void overwriteInLog(WriteContext context, ByteBuffer src, int data) {
        int i = 0;
        while (i < data) {
            if (context.slot[i] >= 0) {
                i++;
                continue;
            }
            int runStart = i;
            int segment = context.targetSegment[i];
            long position = context.targetPosition[i];
            int sourceIndex = context.sourceIndex[i];
            int end = overwrittenRunEnd(context, data, i);
            i++;
            if (sourceIndex >= 0) {
                while (i < end && context.sourceIndex[i] == sourceIndex + ((i - runStart) << blockShift)) {
                    i++;
                }
                valueLog.overwrite(segment, position, src.slice(sourceIndex, (i - runStart) << blockShift));
            } else {
                valueLog.overwrite(segment, position, context.values[runStart].duplicate());
            }
        }
    }

    /**
     * Clears the context's batch and the blocks whose dirty entries it puts (see
     * {@link #committed}).
     */
    private static void clearBatch(WriteContext context) {
        context.batch.clear();
        context.dirtiedCount = 0;
    }

    /**
     * After the context's batch is in RocksDB: the head-epoch dirty entries it put are known to be
     * there, so rewrites of those blocks before the next cut put none. Called under the volume's
     * head lock, as the writes are.
     */
    private static void committed(WriteContext context, Volume volume) {
        HeadDirtyBlocks known = volume.headDirty;
        for (int i = 0; i < context.dirtiedCount; i++) {
            known.add(context.dirtied[i]);
        }
        context.dirtiedCount = 0;
    }

    /** Puts one block's version and its dirty-index entry into the context's batch. */
    private void putBlock(WriteContext context, Volume volume, long block, long epoch, ByteBuffer value)
            throws RocksDBException {
        ByteBuffer stored = value.mismatch(zeroBlock) == -1 ? context.marker(BlockValue.ZERO) : value;
        putVersion(context, volume, block, epoch, stored);
    }

    private void putVersion(WriteContext context, Volume volume, long block, long epoch, ByteBuffer value)
            throws RocksDBException {
        putValue(context, volume, block, epoch, value);
        HeadDirtyBlocks known = volume.headDirty;
        if (known.epoch == epoch) {
            if (known.contains(block)) {
                return;
            }
            context.dirtied[context.dirtiedCount++] = block;
        }
        context.dirtyKey.clear();
        DirtyKey.encode(context.dirtyKey, volume.id, epoch, block);
        context.empty.clear();
        context.batch.put(rocks.dirty, context.dirtyKey, context.empty);
    }

    /** Puts one block's version without touching the dirty index (the version exists already). */
    private void putValue(WriteContext context, Volume volume, long block, long epoch, ByteBuffer value)
            throws RocksDBException {
        context.blockKey.clear();
        BlockKey.encode(context.blockKey, volume.id, block, epoch);
        context.batch.put(rocks.blocks, context.blockKey, value);
    }

    /**
     * Write-zeroes and trim. Only ranges that do not already read as holes are touched, so zeroing
     * a thin volume costs what was written there, not its size. Whole blocks get a marker; partial
     * blocks are read-modify-written. Not atomic across {@link #MAX_BATCH_BLOCKS} blocks, which
     * NBD does not ask for.
     */
    private void zeroRange(Volume volume, long requestedEpoch, long offset, long length, byte kind) {
        enter();
        try {
            volume.headLock.readLock().lock();
            try {
                checkAlive(volume);
                long epoch = writableEpoch(volume, requestedEpoch);
                checkRange(volume, offset, length, volume.sizeBytes);
                if (length == 0) {
                    return;
                }
                List<Extent> extents = new ArrayList<>();
                collectExtents(volume, epoch, offset, length, extents);
                for (Extent extent : extents) {
                    if (extent.type() == ExtentType.HOLE || extent.type() == ExtentType.ZERO && kind == BlockValue.ZERO) {
                        continue;
                    }
                    writeRange(volume, epoch, extent.offset(), extent.end(), null, kind);
                }
            } finally {
                volume.headLock.readLock().unlock();
            }
        } finally {
            exit();
        }
    }

    /**
     * The lock stripe of a block: blocks of one aligned region of {@code 1 << STRIPE_REGION_SHIFT}
     * blocks share it. A 1 MiB write then takes 16 locks, not 256 scattered ones (with which
     * concurrent large writes collided on some stripe almost every time and ran one at a time),
     * and random small writes rarely meet in one region.
     */
    private static int stripeIndex(Volume volume, long block) {
        long mixed = ((block >>> STRIPE_REGION_SHIFT) ^ (volume.id * 0x9E3779B97F4A7C15L)) * 0xBF58476D1CE4E5B9L;
        return (int) (mixed >>> 52) & (LOCK_STRIPES - 1);
    }

    /**
     * Locks the stripes of blocks {@code [first, last]} (at most {@link #MAX_BATCH_BLOCKS}) in
     * ascending stripe order, so that two writers never wait on each other in a cycle. Returns the
     * locked stripes for {@link #unlockStripes}.
     */
    private int[] lockStripes(Volume volume, long first, long last) {
        return lockInOrder(stripesOf(volume, first, last));
    }

    /** {@link #lockStripes} if no stripe is held by another thread now; null, with none held, otherwise. */
    private int[] tryLockStripes(Volume volume, long first, long last) {
        int[] stripes = sortedUnique(stripesOf(volume, first, last));
        for (int i = 0; i < stripes.length; i++) {
            if (!blockLocks[stripes[i]].tryLock()) {
                for (int k = i - 1; k >= 0; k--) {
                    blockLocks[stripes[k]].unlock();
                }
                return null;
            }
        }
        return stripes;
    }

    /** The stripes of blocks {@code [first, last]}, one per stripe region, unsorted. */
    private int[] stripesOf(Volume volume, long first, long last) {
        long firstRegion = first >>> STRIPE_REGION_SHIFT;
        int count = (int) ((last >>> STRIPE_REGION_SHIFT) - firstRegion + 1);
        int[] stripes = new int[count];
        for (int i = 0; i < count; i++) {
            stripes[i] = stripeIndex(volume, (firstRegion + i) << STRIPE_REGION_SHIFT);
        }
        return stripes;
    }

    /**
     * Locks the given stripes, each once, in ascending order (so that no two lockers wait on
     * each other in a cycle); returns them sorted and without repeats, for {@link #unlockStripes}.
     */
    private int[] lockInOrder(int[] stripes) {
        stripes = sortedUnique(stripes);
        for (int stripe : stripes) {
            blockLocks[stripe].lock();
        }
        return stripes;
    }

    /** {@code stripes} sorted, each once (in place when there are no repeats). */
    private static int[] sortedUnique(int[] stripes) {
        int count = stripes.length;
        if (count > 1) {
            java.util.Arrays.sort(stripes);
            int unique = 1;
            for (int i = 1; i < count; i++) {
                if (stripes[i] != stripes[unique - 1]) {
                    stripes[unique++] = stripes[i];
                }
            }
            stripes = unique == count ? stripes : java.util.Arrays.copyOf(stripes, unique);
        }
        return stripes;
    }

    private void unlockStripes(int[] stripes) {
        for (int i = stripes.length - 1; i >= 0; i--) {
            blockLocks[stripes[i]].unlock();
        }
    }

    private void commit(WriteBatch batch) throws RocksDBException {
        rocks.db.write(rocks.writeOptions, batch);
    }

    // ---------------------------------------------------------------- internals: catalog

    private int loadBlockSize(int requested) {
        try {
            byte[] format = rocks.db.get(rocks.catalog, CatalogKey.meta("format"));
            byte[] stored = rocks.db.get(rocks.catalog, CatalogKey.meta("block-size"));
            if (format == null) {
                try (WriteBatch batch = new WriteBatch()) {
                    batch.put(rocks.catalog, CatalogKey.meta("format"), longBytes(FORMAT));
                    batch.put(rocks.catalog, CatalogKey.meta("block-size"), longBytes(requested));
                    batch.put(rocks.catalog, CatalogKey.meta("next-volume-id"), longBytes(1));
                    rocks.db.write(rocks.writeOptions, batch);
                }
                rocks.db.flushWal(true);
                return requested;
            }
            if (ByteBuffer.wrap(format).getLong() != FORMAT) {
                throw new StoreException("store at " + dir + " has format " + ByteBuffer.wrap(format).getLong()
                        + "; this build reads format " + FORMAT);
            }
            int size = (int) ByteBuffer.wrap(stored).getLong();
            if (size != requested) {
                log.warn("store at {} was created with {}-byte blocks; using them instead of {}", dir, size, requested);
            }
            return size;
        } catch (RocksDBException e) {
            throw storeFailure("reading store metadata", e);
        }
    }

    private void loadCatalog() {
        synchronized (catalogLock) {
            try {
                nextVolumeId = ByteBuffer.wrap(rocks.db.get(rocks.catalog, CatalogKey.meta("next-volume-id"))).getLong();
                List<VolumeRecord> records = new ArrayList<>();
                try (RocksIterator it = rocks.db.newIterator(rocks.catalog, rocks.scanOptions)) {
                    for (it.seek(new byte[] {CatalogKey.VOLUME}); it.isValid(); it.next()) {
                        if (CatalogKey.kind(it.key()) != CatalogKey.VOLUME) {
                            break;
                        }
                        records.add(VolumeRecord.decode(it.value()));
                    }
                    checkStatus(it);
                }
                // clones always have larger ids than their parents
                records.sort(Comparator.comparingLong(VolumeRecord::id));
                for (VolumeRecord record : records) {
                    Volume parent = null;
                    if (record.parentId() != 0) {
                        parent = byId.get(record.parentId());
                        if (parent == null) {
                            throw new StoreException("catalog is inconsistent: " + record.name()
                                    + " has a missing parent volume id " + record.parentId());
                        }
                    }
                    register(new Volume(record, parent, headDirtyPages));
                }
                try (RocksIterator it = rocks.db.newIterator(rocks.catalog, rocks.scanOptions)) {
                    for (it.seek(new byte[] {CatalogKey.PENDING_GC}); it.isValid(); it.next()) {
                        byte[] key = it.key();
                        if (CatalogKey.kind(key) != CatalogKey.PENDING_GC) {
                            break;
                        }
                        ByteBuffer task = ByteBuffer.wrap(key);
                        gcTasks.add(new GcTask(task.getLong(1), task.getLong(9), task.getLong(17)));
                    }
                    checkStatus(it);
                }
                try (RocksIterator it = rocks.db.newIterator(rocks.catalog, rocks.scanOptions)) {
                    for (it.seek(new byte[] {CatalogKey.RETAINED}); it.isValid(); it.next()) {
                        byte[] key = it.key();
                        if (CatalogKey.kind(key) != CatalogKey.RETAINED) {
                            break;
                        }
                        Volume volume = byId.get(CatalogKey.volumeId(key));
                        if (volume != null) {
                            volume.retained.put(CatalogKey.epochOf(key), ByteBuffer.wrap(it.value()).getLong());
                        }
                    }
                    checkStatus(it);
                }
            } catch (RocksDBException e) {
                throw storeFailure("loading the catalog", e);
            }
        }
    }

    /** Adds a volume to the in-memory catalog, and its pin to its parent. Under the catalog lock. */
    private void register(Volume volume) {
        byName.put(volume.name, volume);
        byId.put(volume.id, volume);
        if (volume.parent != null) {
            volume.parent.clones.add(volume);
            volume.parent.pins.merge(volume.parentEpoch, 1, Integer::sum);
        }
    }

    /** The collection a parent epoch needs when it loses its last clone and is not retained, or null. */
    private static GcTask unpinTask(Volume parent, long epoch) {
        if (parent.pins.getOrDefault(epoch, 0) == 1 && !parent.retained.containsKey(epoch)) {
            return releaseTask(parent, epoch);
        }
        return null;
    }

    /** Releasing {@code epoch}: the blocks written in (epoch, next kept epoch or head]. Catalog lock. */
    private static GcTask releaseTask(Volume volume, long epoch) {
        long next = Math.min(orElse(volume.retained.higherKey(epoch), Long.MAX_VALUE),
                orElse(volume.pins.higherKey(epoch), Long.MAX_VALUE));
        return new GcTask(volume.id, epoch + 1, next);
    }

    /**
     * Sealing {@code sealed} closes the span (K, sealed] above the newest kept epoch K. When that
     * span held released epochs, writes in it may have left older versions behind: they sit in
     * blocks written in [K + 2, sealed]. Under the catalog lock; null when there is nothing to do.
     */
    private static GcTask cutTask(Volume volume, long sealed) {
        long newestKept = Math.max(orElse(volume.retained.lowerKey(sealed), 0),
                orElse(volume.pins.lowerKey(sealed), 0));
        return sealed - newestKept >= 2 ? new GcTask(volume.id, newestKept + 2, sealed) : null;
    }

    private static long orElse(Long epoch, long none) {
        return epoch == null ? none : epoch;
    }

    private static void decrementPin(Volume parent, long epoch) {
        parent.pins.computeIfPresent(epoch, (e, count) -> count == 1 ? null : count - 1);
    }

    private void persistVolume(VolumeRecord record) {
        try {
            rocks.db.put(rocks.catalog, rocks.writeOptions, CatalogKey.volume(record.id()), record.encode());
        } catch (RocksDBException e) {
            throw storeFailure("updating " + record.name(), e);
        }
    }

    // ---------------------------------------------------------------- internals: checks

    static void checkName(String name) {
        if (name == null || !VOLUME_NAME.matcher(name).matches() || name.equals(".") || name.equals("..")) {
            throw new InvalidRequestException("invalid volume name " + (name == null ? "null" : "'" + name + "'")
                    + ": use 1 to 64 of A-Z a-z 0-9 . _ -");
        }
    }

    static void checkSize(String field, long sizeBytes) {
        if (sizeBytes <= 0 || sizeBytes > MAX_VOLUME_SIZE_BYTES || sizeBytes % SECTOR_BYTES != 0) {
            throw new InvalidRequestException("invalid " + field + " " + sizeBytes + ": must be a positive multiple of "
                    + SECTOR_BYTES + " bytes, at most " + MAX_VOLUME_SIZE_BYTES);
        }
    }

    private void checkRange(Volume volume, long offset, long length, long sizeBytes) {
        if (offset < 0 || length < 0 || offset > sizeBytes || length > sizeBytes - offset) {
            throw new OutOfRangeException("range [" + offset + ", +" + length + ") is outside " + volume.name
                    + " (" + sizeBytes + " bytes)");
        }
    }

    /** The volume's size at a retained epoch; throws when the epoch is not retained. Catalog lock. */
    private static long requireRetained(Volume volume, long epoch) {
        Long size = volume.retained.get(epoch);
        if (size == null) {
            throw new EpochNotRetainedException("epoch " + epoch + " of " + volume.name + " is not retained");
        }
        return size;
    }

    /** The epoch a write asked for {@code epoch} goes to. Under the read side of the head lock. */
    private static long writableEpoch(Volume volume, long epoch) {
        long head = volume.headEpoch;
        if (epoch == HEAD) {
            return head;
        }
        if (epoch < 1 || epoch > head) {
            throw new InvalidRequestException("cannot write " + volume.name + " at epoch " + epoch
                    + " (head is " + head + ")");
        }
        return epoch;
    }

    private static void checkAlive(Volume volume) {
        if (volume.deleted) {
            throw new VolumeNotFoundException("volume " + volume.name + " was deleted");
        }
    }

    /** The size of a volume at an epoch it can be read at: the head, or a retained epoch. */
    private long readableSize(Volume volume, long epoch) {
        checkAlive(volume);
        if (epoch == HEAD || epoch == volume.headEpoch) {
            return volume.sizeBytes;
        }
        synchronized (catalogLock) {
            Long size = volume.retained.get(epoch);
            if (size == null) {
                if (epoch == volume.headEpoch) {
                    return volume.sizeBytes;
                }
                throw new EpochNotRetainedException("epoch " + epoch + " of " + volume.name + " is not readable"
                        + " (head is " + volume.headEpoch + ", retained " + volume.retained.keySet() + ")");
            }
            return size;
        }
    }

    static void checkStatus(RocksIterator it) {
        try {
            it.status();
        } catch (RocksDBException e) {
            throw new StoreException("RocksDB iterator failed: " + e.getMessage(), e);
        }
    }

    private StoreException storeFailure(String what, RocksDBException e) {
        return StoreFullException.failure(what + " failed in " + dir + ": " + e.getMessage(), e);
    }

    private void enter() {
        inFlight.incrementAndGet();
        if (closed) {
            inFlight.decrementAndGet();
            throw new StoreException("store at " + dir + " is closed");
        }
    }

    private void exit() {
        inFlight.decrementAndGet();
    }

    private static byte[] longBytes(long value) {
        return ByteBuffer.allocate(8).putLong(value).array();
    }

    /** Gaps of a clone's read that fall through to its parent: volume offset, out index, length. */
    private static final class Gaps {
        long[] offset = new long[8];
        int[] at = new int[8];
        int[] length = new int[8];
        int count;

        static Gaps add(Gaps gaps, long volumeOffset, int outIndex, int n) {
            if (gaps == null) {
                gaps = new Gaps();
            }
            int last = gaps.count - 1;
            if (last >= 0 && gaps.offset[last] + gaps.length[last] == volumeOffset
                    && gaps.at[last] + gaps.length[last] == outIndex) {
                gaps.length[last] += n;
                return gaps;
            }
            if (gaps.count == gaps.offset.length) {
                gaps.offset = java.util.Arrays.copyOf(gaps.offset, gaps.count * 2);
                gaps.at = java.util.Arrays.copyOf(gaps.at, gaps.count * 2);
                gaps.length = java.util.Arrays.copyOf(gaps.length, gaps.count * 2);
            }
            gaps.offset[gaps.count] = volumeOffset;
            gaps.at[gaps.count] = outIndex;
            gaps.length[gaps.count] = n;
            gaps.count++;
            return gaps;
        }
    }

    /** Spreads work to at most {@code perSecond} units a second by sleeping between chunks. */
    static final class Pacer {
        private final long perSecond;
        private final long startNanos = System.nanoTime();
        private long done;

        Pacer(long perSecond) {
            this.perSecond = perSecond;
        }

        void pace(long units) {
            done += units;
            if (perSecond == Long.MAX_VALUE) {
                return;
            }
            long dueNanos = (long) (done * 1e9 / perSecond);
            long aheadNanos = dueNanos - (System.nanoTime() - startNanos);
            if (aheadNanos > 1_000_000) {
                try {
                    Thread.sleep(aheadNanos / 1_000_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /**
     * Per-thread direct buffers and a reusable WriteBatch for the write path; closed with the
     * store. Only the owning thread touches it, except {@link #close}.
     */
    private static final class WriteContext {
        final WriteBatch batch = new WriteBatch();
        final ByteBuffer blockKey = ByteBuffer.allocateDirect(BlockKey.LENGTH);
        final ByteBuffer dirtyKey = ByteBuffer.allocateDirect(DirtyKey.LENGTH);
        final ByteBuffer empty = ByteBuffer.allocateDirect(0);
        final ByteBuffer block;
        /** The last block of a write, when it is read-modify-written too ({@link #block} holds the first). */
        final ByteBuffer lastBlock;
        /** A block read to learn what an overwrite replaces. */
        final ByteBuffer scratch;
        final ByteBuffer pointer = ByteBuffer.allocateDirect(ValueLog.Pointer.OVERWRITTEN_LENGTH);
        /** The value of a version looked up to overwrite it in place. */
        final ByteBuffer found = ByteBuffer.allocateDirect(ValueLog.Pointer.OVERWRITTEN_LENGTH);
        /** The partial blocks of one batch on their way to the value log (whole ones are read from the source). */
        final ByteBuffer[] values = new ByteBuffer[MAX_BATCH_BLOCKS];
        final int[] sourceIndex = new int[MAX_BATCH_BLOCKS];
        final long[] blocks = new long[MAX_BATCH_BLOCKS];
        /** Per data block: its index among the appended blocks, or -1 when overwritten in place ... */
        final int[] slot = new int[MAX_BATCH_BLOCKS];
        /** ... at this segment and position, whose bytes have this CRC now. */
        final int[] targetSegment = new int[MAX_BATCH_BLOCKS];
        final long[] targetPosition = new long[MAX_BATCH_BLOCKS];
        final int[] previousCrc = new int[MAX_BATCH_BLOCKS];
        /** Per data block overwritten in place: its pointer's or table slot's CRC, previous CRC and session. */
        final int[] crcNow = new int[MAX_BATCH_BLOCKS];
        final int[] crcBefore = new int[MAX_BATCH_BLOCKS];
        final int[] writtenIn = new int[MAX_BATCH_BLOCKS];
        /** The known runs of a batch's groups ({@link #knownRuns}). */
        final PointerCache.Run[] runs = new PointerCache.Run[MAX_BATCH_BLOCKS / PointerCache.RUN_BLOCKS];
        /** CRC table slots read for the blocks overwritten in place. */
        final ByteBuffer tableSlots = ByteBuffer.allocateDirect(MAX_BATCH_BLOCKS * ValueLog.TABLE_SLOT_BYTES);
        /** Per data block: the CRC of its new bytes. */
        final int[] newCrc = new int[MAX_BATCH_BLOCKS];
        /** Per data block overwritten in place: whether its pointer keeps its CRCs in the segment's table already. */
        final boolean[] inTable = new boolean[MAX_BATCH_BLOCKS];
        /** CRC table slots of the blocks overwritten in place, on their way to the tables. */
        final ByteBuffer tableEntries = ByteBuffer.allocateDirect(MAX_BATCH_BLOCKS * ValueLog.TABLE_SLOT_BYTES);
        /** Blocks whose head-epoch dirty entries the batch puts; see {@link #committed}. */
        final long[] dirtied = new long[MAX_BATCH_BLOCKS];
        int dirtiedCount;
        private final ByteBuffer zeroMarker = ByteBuffer.allocateDirect(1).put(0, BlockValue.ZERO);
        private final CRC32C crc = new CRC32C();
        private final ByteBuffer holeMarker = ByteBuffer.allocateDirect(1).put(0, BlockValue.HOLE);

        WriteContext(int blockSize) {
            block = ByteBuffer.allocateDirect(blockSize);
            lastBlock = ByteBuffer.allocateDirect(blockSize);
            scratch = ByteBuffer.allocateDirect(blockSize);
        }

        /** The CRC32C of {@code data}'s remaining bytes, which are left as they were; allocates nothing. */
        int crc32c(ByteBuffer data) {
            return BlockStore.crc32c(crc, data);
        }

        ByteBuffer marker(byte kind) {
            ByteBuffer marker = kind == BlockValue.HOLE ? holeMarker : zeroMarker;
            marker.clear();
            return marker;
        }

        void close() {
            batch.close();
        }
    }
}

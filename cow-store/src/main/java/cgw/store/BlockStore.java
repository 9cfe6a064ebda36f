package cgw.store;

import cgw.host.Pacer;
import cgw.store.key.BlockValue;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.roaringbitmap.longlong.Roaring64Bitmap;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDBException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A copy-on-write block store of volumes on one RocksDB instance: the store's public API, and the
 * one place that wires its parts together (docs/store.md has the map).
 *
 * <p>Every block version lives under {@code (volume, block, ~epoch)}: a write at the head epoch
 * replaces its own version in place, the first write after a {@link #cut} creates a new one, so a
 * cut is O(1) and old epochs stay readable until {@link #release}d. Clones fall through to a
 * {@code (parent, epoch)} for blocks they never wrote. Catalog changes go to RocksDB in the same
 * {@code WriteBatch} as the data they describe.
 *
 * <p>Threads: every public method is safe to call from any thread; each is counted in flight so
 * that {@link #close} waits for it. The parts take their locks in the order {@link StripeLocks}
 * writes down. Nothing here knows about NBD or HTTP.
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
    /** The epoch argument of a read or write that goes to whatever the head epoch is when it applies. */
    public static final long HEAD = Long.MAX_VALUE;
    /** Most blocks put in one atomic WriteBatch; longer writes are split. */
    static final int MAX_BATCH_BLOCKS = 1024;
    /**
     * Heap for the region records writes merge into ({@link RecordCache}): some 60,000 records,
     * 4 GiB of volume written at random, in a heap of 256 MiB that mostly holds requests in flight.
     */
    static final long RECORD_CACHE_BYTES = 16L << 20;
    /**
     * Pages of {@link HeadDirtyBlocks} all volumes may hold: 16 MiB, enough for 512 GiB of
     * 4 KiB blocks rewritten between two cuts.
     */
    static final int HEAD_DIRTY_PAGES = 2048;
    /** Largest block overwritten in place: a page, which a killed process never leaves half written. */
    private static final int MAX_OVERWRITE_BLOCK_BYTES = 4096;
    /**
     * Longest read {@link #readNoWait} serves on its caller's thread: the NBD server's 1 MiB
     * reads, whose copy is then sent while it is still in the CPU's cache.
     */
    static final int MAX_NO_WAIT_READ_BYTES = 1 << 20;

    private final Path dir;
    private final StoreFiles files;
    private final Durability durability;
    private final Rocks rocks;
    private final ValueLog valueLog;
    private final BlockGeometry geometry;
    private final WalSync walSync;
    private final SpaceGuard spaceGuard;
    private final InFlightCalls calls;
    private final Catalog catalog;
    private final BlockReader reader;
    private final HeadReads headReads;
    private final BlockWriter writer;
    private final NoWaitWriter noWaitWriter;
    private final InPlaceOverwrites overwrites;
    private final ExtentMap extents;
    private final LogCleaner cleaner;
    private final Defragmenter defragmenter;
    private final Collector collector;
    private final CollectorThread collectorThread;

    private BlockStore(StoreFiles files, StoreOptions options, int pointerCacheSlots) {
        this.files = files;
        this.dir = files.dir;
        this.durability = files.durability;
        this.rocks = files.rocks;
        this.valueLog = files.valueLog;
        this.walSync = files.walSync;
        this.geometry = new BlockGeometry(files.blockSize);
        // a block of one page is overwritten whole or not at all when the process dies mid-write
        boolean overwriteInPlace = options.overwriteInPlace()
                && geometry.blockSize <= MAX_OVERWRITE_BLOCK_BYTES;
        // names this open in the CRC table slots of blocks it overwrites in place; never 0
        int session = new SecureRandom().nextInt() | 1;
        // room for RocksDB to flush both memtable generations and write its logs
        this.spaceGuard = new SpaceGuard(dir, 2 * options.memtableBytes() + (64L << 20));
        this.calls = new InFlightCalls(dir);
        this.catalog = new Catalog(rocks, walSync, new AtomicInteger(HEAD_DIRTY_PAGES));
        PointerCache pointerCache = new PointerCache(pointerCacheSlots);
        StripeLocks stripes = new StripeLocks();
        PointerReads pointers = new PointerReads(valueLog, geometry);
        RecordCache records = new RecordCache(RECORD_CACHE_BYTES);
        Relocation relocation = new Relocation(rocks, catalog, pointerCache, records, pointers, stripes, durability);
        ReentrantLock collectorLock = new ReentrantLock();
        this.cleaner = new LogCleaner(rocks, valueLog, stripes, walSync, relocation, geometry.blockSize);
        this.defragmenter = new Defragmenter(new LogMover(relocation, valueLog, geometry.blockSize), catalog, rocks,
                valueLog, spaceGuard, calls, collectorLock, durability, geometry);
        this.headReads = new HeadReads(rocks, pointers, pointerCache, stripes, defragmenter, geometry);
        this.reader = new BlockReader(rocks, pointers, headReads, stripes, defragmenter, geometry, overwriteInPlace);
        this.extents = new ExtentMap(rocks, geometry);
        this.overwrites = new InPlaceOverwrites(rocks, pointers, pointerCache, geometry, session);
        this.writer = new BlockWriter(rocks, reader, overwrites, extents, valueLog, pointerCache, records, stripes,
                geometry, overwriteInPlace);
        this.noWaitWriter = new NoWaitWriter(overwrites, writer, valueLog, pointerCache, stripes, geometry,
                overwriteInPlace);
        this.collector = new Collector(rocks, catalog, extents, cleaner, calls, collectorLock, stripes, records,
                geometry.blockShift);
        this.collectorThread = new CollectorThread(collector, durability, options.gcBlocksPerSecond());
        if (options.backgroundGc()) {
            collectorThread.start();
            defragmenter.start();
        }
    }

    /** Opens the store in {@code dir}, creating it when missing. */
    public static BlockStore open(Path dir, StoreOptions options) {
        int pointerCacheSlots = PointerCache.slotsFor(options);
        StoreFiles files = StoreFiles.open(dir, options,
                options.cacheBytes() - PointerCache.bytesOf(pointerCacheSlots));
        try {
            BlockStore store = new BlockStore(files, options, pointerCacheSlots);
            log.info("opened store at {} ({} volumes, block size {} bytes)", dir, store.catalog.size(),
                    store.geometry.blockSize);
            return store;
        } catch (RuntimeException e) {
            try {
                files.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * Whether a sync of the store failed: it then serves reads and refuses everything else with
     * {@link StoreFailedException} until it is opened again.
     */
    public boolean syncFailed() {
        return durability.failed();
    }

    public int blockSizeBytes() {
        return geometry.blockSize;
    }

    // ---------------------------------------------------------------- volumes

    public Volume createVolume(String name, long sizeBytes) {
        Names.check("volume", name);
        Volume.checkSize("size", sizeBytes);
        durability.check();
        return calls.call(() -> catalog.create(name, sizeBytes));
    }

    /** The volume of that name; throws {@link VolumeNotFoundException} when there is none. */
    public Volume volume(String name) {
        return catalog.volume(name);
    }

    public VolumeInfo info(Volume volume) {
        return calls.call(() -> catalog.info(volume));
    }

    /** All volumes, ordered by name. */
    public List<VolumeInfo> volumes() {
        return calls.call(catalog::volumes);
    }

    /** Grows a volume; shrinking is refused, since it would silently drop data. */
    public VolumeInfo grow(Volume volume, long newSizeBytes) {
        Volume.checkSize("size", newSizeBytes);
        durability.check();
        return calls.call(() -> catalog.grow(volume, newSizeBytes));
    }

    /**
     * Deletes a volume and all its epochs. Refused while clones depend on it: delete or restore
     * the clones first (as Ceph RBD refuses to remove a snapshot with children). Space is
     * reclaimed by RocksDB compaction of the range tombstones.
     */
    public void delete(Volume volume) {
        durability.check();
        calls.run(() -> {
            catalog.delete(volume);
            cleaner.hintGarbage();
        });
        collectorThread.wake();
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
        durability.check();
        return calls.call(() -> catalog.cut(volumes, alongside));
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
     * Holds a retained epoch of {@code volume} for a reader (an NBD export of a snapshot) until
     * the returned hold is closed: meanwhile releasing it fails with {@link VolumeInUseException}
     * and changes nothing, so that the reader never meets versions the collector took. Throws
     * {@link EpochNotRetainedException} when the epoch is not retained (any more).
     */
    public EpochHold hold(Volume volume, long epoch) {
        catalog.hold(volume, epoch);
        return new EpochHold(() -> catalog.unhold(volume, epoch));
    }

    /**
     * Releases several retained epochs (of one volume or many) and applies {@code alongside} in
     * one atomic catalog write, then syncs it: a layer above drops its record of a snapshot
     * together with the epochs the record names. Fails without changing anything when one of
     * the epochs is not retained, or is held by a reader ({@link VolumeInUseException}).
     */
    public void release(List<VolumeEpoch> epochs, CatalogChanges alongside) {
        durability.check();
        calls.run(() -> catalog.release(epochs, alongside));
        collectorThread.wake();
    }

    /** Applies records of a layer above the store on their own, synced when {@code sync}. */
    public void updateCatalog(CatalogChanges changes, boolean sync) {
        durability.check();
        calls.run(() -> catalog.update(changes, sync));
    }

    /** The records of layers above the store whose names start with {@code prefix}, sorted by name. */
    public SortedMap<String, byte[]> catalogEntries(String prefix) {
        return calls.call(() -> catalog.entries(prefix));
    }

    /** The size of a volume at the head or at a retained epoch. */
    public long sizeBytes(Volume volume, long epoch) {
        return catalog.readableSize(volume, epoch);
    }

    /** Retained epochs of a volume, oldest first. */
    public List<Long> retainedEpochs(Volume volume) {
        return catalog.retainedEpochs(volume);
    }

    /**
     * Creates a writable volume {@code name} whose blocks fall through to {@code source} at the
     * retained {@code epoch} until written. Its size is the source's size at that epoch.
     */
    public Volume clone(Volume source, long epoch, String name) {
        Names.check("volume", name);
        durability.check();
        return calls.call(() -> catalog.clone(source, epoch, name));
    }

    // ---------------------------------------------------------------- block I/O

    /** Reads the head of a volume, whatever epoch it is at while the read runs (a cut may seal one meanwhile). */
    public void read(Volume volume, long offset, ByteBuffer dst) {
        read(volume, HEAD, offset, dst);
    }

    /** Reads a volume as it is at {@code epoch}: {@link #HEAD}, the head epoch or a retained epoch. */
    public void read(Volume volume, long epoch, long offset, ByteBuffer dst) {
        calls.enter();
        try {
            int length = dst.remaining();
            volume.checkRange(offset, length, catalog.readableSize(volume, epoch));
            if (length > 0) {
                reader.read(volume, epoch, offset, dst);
            }
        } finally {
            calls.exit();
        }
    }

    /**
     * Reads whole blocks, ascending and each once, as {@link #read(Volume, long, long, ByteBuffer)}
     * would read each, into {@code dst} one after the other: for many scattered blocks at once (an
     * epoch's changes shipped to a replica), with one walk of the block map instead of one each.
     */
    public void readBlocks(Volume volume, long epoch, long[] blocks, int count, ByteBuffer dst) {
        checkScattered(blocks, count, dst);
        calls.enter();
        try {
            if (count > 0) {
                long readable = catalog.readableSize(volume, epoch);
                volume.checkRange(blocks[0] * geometry.blockSize, geometry.blockSize, readable);
                volume.checkRange(blocks[count - 1] * geometry.blockSize, geometry.blockSize, readable);
                reader.readBlocks(volume, epoch, blocks, count, dst);
            }
        } finally {
            calls.exit();
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
        if (length == 0 || length > MAX_NO_WAIT_READ_BYTES || ((offset | length) & (geometry.blockSize - 1)) != 0
                || !dst.isDirect()) {
            return false;
        }
        // no lambda: called for every request an event loop serves
        calls.enter();
        try {
            return headReads.readNoWait(volume, offset, dst);
        } finally {
            calls.exit();
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
        durability.check();
        calls.enter();
        try {
            int length = src.remaining();
            volume.headLock.readLock().lock();
            try {
                volume.checkAlive();
                long target = volume.writableEpoch(epoch);
                volume.checkRange(offset, length, volume.sizeBytes);
                spaceGuard.admit(length);
                if (length > 0) {
                    writer.write(volume, target, offset, offset + length, src.slice(), BlockValue.ZERO);
                }
            } finally {
                volume.headLock.readLock().unlock();
            }
        } finally {
            calls.exit();
        }
    }

    /**
     * Writes whole blocks scattered over a volume at the head epoch: the block numbers
     * {@code blocks[0, count)}, ascending and each once, their bytes back to back in {@code data}
     * (from its position; it must hold exactly {@code count} blocks). Each block ends as
     * {@link #write} would leave it, with one value-log append and one RocksDB batch per up to 64
     * regions the blocks touch instead of one each: for many small changes at once (a replica
     * applying an epoch). Not atomic as a whole; durable after the next {@link #flush}.
     */
    public void writeBlocks(Volume volume, long[] blocks, int count, ByteBuffer data) {
        durability.check();
        int blockSize = geometry.blockSize;
        checkScattered(blocks, count, data);
        calls.enter();
        try {
            volume.headLock.readLock().lock();
            try {
                volume.checkAlive();
                long target = volume.writableEpoch(HEAD);
                if (count > 0) {
                    volume.checkRange(blocks[0] * blockSize, blockSize, volume.sizeBytes);
                    volume.checkRange(blocks[count - 1] * blockSize, blockSize, volume.sizeBytes);
                    spaceGuard.admit((long) count * blockSize);
                    writer.writeBlocks(volume, target, blocks, count, data.slice());
                }
            } finally {
                volume.headLock.readLock().unlock();
            }
        } finally {
            calls.exit();
        }
    }

    private void checkScattered(long[] blocks, int count, ByteBuffer data) {
        int blockSize = geometry.blockSize;
        if (count < 0 || count > blocks.length || data.remaining() != (long) count * blockSize) {
            throw new InvalidRequestException(count + " scattered blocks need " + (long) count * blockSize
                    + " bytes of data, not " + data.remaining());
        }
        for (int i = 1; i < count; i++) {
            if (blocks[i] <= blocks[i - 1]) {
                throw new InvalidRequestException("scattered blocks must be ascending and each once: block "
                        + blocks[i] + " follows " + blocks[i - 1]);
            }
        }
    }

    /**
     * Writes at the head as {@link #write(Volume, long, long, ByteBuffer)} would, but only if that
     * needs no waiting ({@link NoWaitWriter}): whole {@link PointerCache#RUN_BLOCKS}-block groups
     * of data overwriting in place the runs a previous write of them left, at most
     * {@link #MAX_BATCH_BLOCKS} blocks, into a direct buffer. Returns false, with nothing
     * changed, when the caller must call {@code write} instead, on a thread that may wait; that is
     * also the answer for anything {@code write} would report as an error. {@code epoch} is as for
     * {@code write}; only the head epoch is overwritten in place.
     */
    public boolean writeNoWait(Volume volume, long epoch, long offset, ByteBuffer src) {
        if (!noWaitWriter.fits(offset, src.remaining(), src) || durability.failed()) {
            return false;
        }
        // no lambda: called for every request an event loop serves
        calls.enter();
        try {
            return noWaitWriter.write(volume, epoch, offset, src);
        } finally {
            calls.exit();
        }
    }

    /** For tests: where {@link #writeNoWait} learns whether the page cache has room. */
    void useWriteBackRoom(WriteBackRoom room) {
        noWaitWriter.useWriteBackRoom(room);
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

    private void zeroRange(Volume volume, long requestedEpoch, long offset, long length, byte kind) {
        durability.check();
        calls.enter();
        try {
            volume.headLock.readLock().lock();
            try {
                volume.checkAlive();
                long epoch = volume.writableEpoch(requestedEpoch);
                volume.checkRange(offset, length, volume.sizeBytes);
                if (length > 0) {
                    writer.zero(volume, epoch, offset, length, kind);
                }
            } finally {
                volume.headLock.readLock().unlock();
            }
        } finally {
            calls.exit();
        }
    }

    /**
     * Makes every write acknowledged before this call durable (a WAL sync, grouped with others).
     * Once a sync failed, this and every later flush fail with {@link StoreFailedException}.
     */
    public void flush() {
        calls.run(walSync::sync);
    }

    // ---------------------------------------------------------------- maps

    /**
     * What each part of {@code [offset, offset + length)} holds at {@code epoch} ({@link #HEAD}: the
     * newest versions, whatever the head epoch while the scan runs), in order and merged, clipped to
     * the range. Costs a scan of the range's keys, never of the volume.
     */
    public List<Extent> extents(Volume volume, long epoch, long offset, long length) {
        calls.enter();
        try {
            volume.checkRange(offset, length, catalog.readableSize(volume, epoch));
            List<Extent> out = new ArrayList<>();
            if (length > 0) {
                extents.collect(volume, epoch, offset, length, out);
            }
            return out;
        } finally {
            calls.exit();
        }
    }

    /**
     * Blocks of a volume written after {@code fromEpoch} up to and including {@code toEpoch}:
     * a superset of the blocks whose content differs between the two epochs, from the dirty index
     * without a scan of the volume. {@code fromEpoch} 0 means "since the volume was created"
     * (for a clone: since it was cloned).
     */
    public Roaring64Bitmap changedBlocks(Volume volume, long fromEpoch, long toEpoch) {
        calls.enter();
        try {
            catalog.requireRetained(volume, fromEpoch, toEpoch);
            if (fromEpoch >= toEpoch) {
                throw new InvalidRequestException("fromEpoch " + fromEpoch + " must be older than toEpoch " + toEpoch);
            }
            return extents.dirtyBlocks(volume, fromEpoch + 1, toEpoch);
        } finally {
            calls.exit();
        }
    }

    /**
     * Blocks of a volume written after the retained {@code fromEpoch} up to the head, as it is now:
     * what must be written back to make the head read as {@code fromEpoch} again.
     */
    public Roaring64Bitmap changedSince(Volume volume, long fromEpoch) {
        calls.enter();
        try {
            catalog.requireRetained(volume, fromEpoch, fromEpoch);
            return extents.dirtyBlocks(volume, fromEpoch + 1, Long.MAX_VALUE - 1);
        } finally {
            calls.exit();
        }
    }

    /**
     * The blocks of {@code [offset, offset + length)} (rounded out to whole blocks) written after
     * {@code fromEpoch} (0: since the volume was created or cloned) up to and including
     * {@code toEpoch} ({@link #HEAD}: the head as it is now): the NBD changed-block context. Costs
     * a seek per epoch with changes and the range's index entries, never a scan of the volume.
     */
    public Roaring64Bitmap changedBlocks(Volume volume, long fromEpoch, long toEpoch, long offset, long length) {
        calls.enter();
        try {
            if (toEpoch != HEAD) {
                catalog.requireRetained(volume, fromEpoch, toEpoch);
            } else if (fromEpoch != 0) {
                catalog.requireRetained(volume, fromEpoch, fromEpoch);
            }
            if (toEpoch != HEAD && fromEpoch >= toEpoch) {
                throw new InvalidRequestException("fromEpoch " + fromEpoch + " must be older than toEpoch " + toEpoch);
            }
            volume.checkRange(offset, length, catalog.readableSize(volume, toEpoch));
            if (length == 0) {
                return new Roaring64Bitmap();
            }
            return extents.dirtyBlocks(volume, fromEpoch + 1, toEpoch == HEAD ? Long.MAX_VALUE - 1 : toEpoch,
                    offset >>> geometry.blockShift, (offset + length - 1) >>> geometry.blockShift);
        } finally {
            calls.exit();
        }
    }

    // ---------------------------------------------------------------- garbage collection and statistics

    /**
     * Runs the collector over every pending release now, without its rate limit, then a forced
     * round of the value log's cleaner: when no writes run meanwhile, the log holds live data only
     * afterwards.
     */
    public GcStats collectGarbage() {
        durability.check();
        GcStats stats = collector.collectPending(Long.MAX_VALUE);
        collector.cleanValueLog(Long.MAX_VALUE, true);
        return stats;
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
        return collector.totals();
    }

    /** Collections waiting for the collector (after releases, clone deletions and some cuts). */
    public int pendingReleases() {
        return catalog.pendingTasks();
    }

    /** The epochs a block has versions in, newest first (for tests of the collector). */
    List<Long> versionsOf(Volume volume, long block) {
        return collector.versionsOf(volume, block);
    }

    /** Runs the defragmentation requests waiting now on the calling thread (tests); returns the blocks moved. */
    long defragmentPending() {
        return defragmenter.runPending();
    }

    /** Writes {@link #writeNoWait} did (rather than declined) since the store was opened. */
    public long noWaitWrites() {
        return noWaitWriter.writes();
    }

    /** Whole data blocks written with {@code outcome} since the store was opened. */
    public long blocksWritten(WriteOutcome outcome) {
        return overwrites.written(outcome);
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
        return calls.call(() -> cleaner.liveBytes(valueLog.allSegments(), new Pacer(Pacer.UNLIMITED)).values().stream()
                .mapToLong(Long::longValue).sum());
    }

    /** A RocksDB integer property of the blocks family, such as {@code rocksdb.estimate-num-keys}. */
    public long blocksProperty(String name) {
        return longProperty(rocks.blocks, name);
    }

    /** A RocksDB integer property of the dirty index, for tests. */
    long dirtyIndexProperty(String name) {
        return longProperty(rocks.dirty, name);
    }

    private long longProperty(ColumnFamilyHandle family, String name) {
        calls.enter();
        try {
            return rocks.db.getLongProperty(family, name);
        } catch (RocksDBException e) {
            throw rocks.failure("reading property " + name, e);
        } finally {
            calls.exit();
        }
    }

    // ---------------------------------------------------------------- lifecycle

    /**
     * Stops the background threads, waits for calls in flight, syncs the WAL and closes RocksDB.
     * Idempotent; later calls fail with {@link StoreException}.
     */
    @Override
    public void close() {
        // first, while the store is open: a request it is in the middle of finishes (or its
        // copies are dropped) instead of failing on a closed store; idempotent
        defragmenter.stop();
        if (!calls.close()) {
            return;
        }
        collectorThread.stop();
        calls.awaitNone();
        writer.close();
        files.close(); // throws when the final sync failed: the caller (`cgw serve`) exits non-zero
        log.info("closed store at {}", dir);
    }
}

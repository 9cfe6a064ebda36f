package cgw.store;

import cgw.store.key.BlockPointer;
import cgw.store.key.CrcSlot;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Block data kept out of RocksDB: segment files of raw block payloads under
 * {@code STORE/values/}, named by a rising number ({@code 0000000042.seg}). The {@code blocks}
 * column family then holds a {@link BlockPointer} per version instead of the block, so the WAL,
 * memtables, flushes and compactions move pointers, not data, and every block is written to disk
 * once (plus the cleaner's relocations).
 *
 * <p>Segments hold nothing but payloads: which bytes are live is known only from the pointers in
 * RocksDB. Writers {@link #reserve} space in the active segment, write it, put their pointers and
 * then {@link Reservation#finish}; the store may also {@link #overwrite} the bytes of a live
 * pointer in place (the pointer stays where it is). A segment is <em>settled</em> once it is no
 * longer active and every reservation in it has finished: no new pointer to it can ever appear
 * (new bytes go to the active segment, and nothing copies pointers), which is what makes the
 * cleaner's relocation complete. Every segment found at open is settled.
 *
 * <p>Removal: readers hold {@link #readLock} from the moment they look a pointer up until they
 * have read its bytes; the cleaner removes a segment under the write lock, after every pointer to
 * it was relocated durably, so a reader never reads a removed segment.
 *
 * <p>CRC tables: a block overwritten in place keeps its CRCs in its segment's table,
 * {@code NNNNNNNNNN.crc}, a {@link CrcSlot#LENGTH}-byte slot per block position, written before
 * the bytes and synced with the segment (its pointer is then the short {@link BlockPointer#TABLE_LENGTH}
 * form, and later overwrites put nothing into RocksDB). A table goes with its segment.
 *
 * <p>Recycling: up to {@link #FREE_SEGMENTS} removed segments are kept as {@code NNNNNNNNNN.free}
 * and renamed into the next segments, as RocksDB recycles WAL files: writes then overwrite pages
 * the file already has, which spares the allocator and makes a sync cheaper (no size change to
 * persist). Their old bytes are never read:
 * pointers only lead to bytes written since. A new or renamed segment's name is made durable
 * (directory sync) before any pointer to it can be.
 *
 * <p>Threads: any. {@code this} guards the active segment and its end.
 */
final class ValueLog implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ValueLog.class);
    static final String DIRECTORY = "values";
    private static final String SUFFIX = ".seg";
    private static final String FREE_SUFFIX = ".free";
    static final String TABLE_SUFFIX = ".crc";
    static final int FREE_SEGMENTS = 4;

    private final Path dir;
    private final long segmentBytes;
    private final Durability durability;
    private final Map<Integer, LogSegment> segments = new ConcurrentHashMap<>();
    /** Segments written since the last {@link #sync}. */
    private final Set<LogSegment> unsynced = ConcurrentHashMap.newKeySet();
    private final ReentrantReadWriteLock removal = new ReentrantReadWriteLock();
    private final ReentrantLock syncing = new ReentrantLock();
    /** Segments the cleaner is emptying: bytes in them are never overwritten in place. */
    private final Set<Integer> cleaning = ConcurrentHashMap.newKeySet();
    /** Appended and not known durable beyond which a freeze syncs first ({@link #syncAhead}). */
    static final long SYNC_AHEAD_BYTES = 16L << 20;
    /** At most this many syncs ahead: each covers what was appended during the one before. */
    private static final int SYNC_AHEAD_ROUNDS = 3;
    private final AtomicLong appended = new AtomicLong();
    /** {@link #appended} when the last {@link #sync} to return began: all of it is durable. */
    private volatile long appendedSynced;
    private final OverwriteFence fence = new OverwriteFence(LogPosition.START);
    private final WalCopies walCopies = new WalCopies();
    /** Removed segment files waiting to be reused, oldest first. */
    private final java.util.ArrayDeque<Path> free = new java.util.ArrayDeque<>(); // guarded by this
    private @Nullable LogSegment active; // guarded by this
    private long activeEnd; // guarded by this
    private int nextNumber; // guarded by this
    private volatile boolean closed;

    private ValueLog(Path dir, long segmentBytes, Durability durability) {
        this.dir = dir;
        this.segmentBytes = segmentBytes;
        this.durability = durability;
    }

    /**
     * Opens (creating when missing) the value log of a store, before RocksDB (its replay reads the
     * log): every existing segment is settled and frozen, and those not known durable are synced
     * by the next sync.
     */
    static ValueLog open(Path storeDir, long segmentBytes, Durability durability) {
        return open(storeDir, segmentBytes, durability, LogPosition.START);
    }

    /** {@link #open}; segments wholly before {@code durable} are known durable and are not synced again. */
    static ValueLog open(Path storeDir, long segmentBytes, Durability durability, LogPosition durable) {
        Path dir = storeDir.resolve(DIRECTORY);
        ValueLog valueLog = new ValueLog(dir, segmentBytes, durability);
        try {
            Files.createDirectories(dir);
            int highest = 0;
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + FREE_SUFFIX)) {
                for (Path file : files) {
                    valueLog.free.add(file);
                    highest = Math.max(highest, parseNumber(file, FREE_SUFFIX));
                }
            }
            try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
                for (Path file : files) {
                    int number = parseNumber(file, SUFFIX);
                    FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
                    LogSegment segment = new LogSegment(number, file, channel, NoWaitReads.open(file), channel.size());
                    segment.sealed = true;
                    valueLog.segments.put(number, segment);
                    if (number >= durable.segment()) {
                        // maybe in the page cache only (a crash): the first sync makes it and its table durable
                        segment.existingTable(dir);
                        valueLog.unsynced.add(segment);
                    }
                    highest = Math.max(highest, number);
                }
            }
            valueLog.nextNumber = highest + 1;
            valueLog.fence.freezeThrough(new LogPosition(valueLog.nextNumber, 0));
        } catch (IOException | RuntimeException e) {
            valueLog.close();
            throw new StoreException("cannot open the value log in " + dir + ": " + e.getMessage(), e);
        }
        return valueLog;
    }

    /** A failed file operation as the store reports it: {@link StoreFullException} when out of space. */
    private static StoreException failure(String what, IOException e) {
        return StoreFullException.failure(what + ": " + e.getMessage(), e);
    }

    private static int parseNumber(Path file, String suffix) {
        String name = file.getFileName().toString();
        try {
            return Integer.parseInt(name.substring(0, name.length() - suffix.length()));
        } catch (NumberFormatException e) {
            throw new StoreException("unexpected file in the value log: " + file, e);
        }
    }

    /**
     * Deletes the CRC tables of segments removed before a crash. Only once RocksDB is open: its
     * lock is what keeps a second process off a store in use, and this writes.
     */
    void removeOrphanTables() {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*" + TABLE_SUFFIX)) {
            for (Path file : files) {
                if (!segments.containsKey(parseNumber(file, TABLE_SUFFIX))) {
                    Files.delete(file);
                }
            }
        } catch (IOException e) {
            throw failure("cannot remove the CRC tables of removed segments in " + dir, e);
        }
    }

    /** Held by readers between looking a pointer up and reading its bytes. */
    ReentrantReadWriteLock.ReadLock readLock() {
        return removal.readLock();
    }

    /**
     * Reserves {@code bytes} of the active segment, starting a new one when it is full. The caller
     * writes the reservation, puts its pointers and then finishes it, whatever happened.
     */
    synchronized Reservation reserve(int bytes) {
        if (closed) {
            throw new StoreException("value log is closed");
        }
        LogSegment segment = active;
        if (segment == null || activeEnd > 0 && activeEnd + bytes > segmentBytes) {
            segment = roll();
        }
        long position = activeEnd;
        activeEnd += bytes;
        segment.writers.incrementAndGet();
        segment.size = Math.max(segment.size, activeEnd);
        appended.addAndGet(bytes);
        Reservation reservation = new Reservation(this, segment, position, bytes);
        fence.reserved(reservation);
        return reservation;
    }

    /** Held by a write from choosing the bytes it overwrites in place until they are written ({@link OverwriteFence}). */
    Lock overwritePermit() {
        return fence.permit();
    }

    /** Whether a write holding the {@link #overwritePermit} may overwrite these bytes in place ({@link OverwriteFence}). */
    boolean mayOverwrite(int segmentNumber, long start, long end, OverwriteFence.Marking marking) {
        return fence.mayOverwrite(segmentNumber, start, end, marking);
    }

    /** From now on flushed bytes may be overwritten in place, their ranges recorded first. */
    void useFlushedOverwrites(FlushedOverwrites record) {
        fence.useFlushedOverwrites(record);
    }

    /** After the {@link #sync} that followed {@link #freeze} returned. */
    void synced(OverwriteFence.Frozen frozen) {
        fence.synced(frozen);
    }

    /** The length of a segment's file, or -1 when there is no such segment. */
    long segmentLength(int segmentNumber) {
        LogSegment segment = segments.get(segmentNumber);
        try {
            return segment == null ? -1 : segment.channel.size();
        } catch (IOException e) {
            throw new StoreException("reading the length of value log segment " + segment.file, e);
        }
    }

    /**
     * Ends overwrites in place of everything appended so far (waiting for those in flight);
     * returns the point before which every appended byte is written, which the {@link #sync}
     * that follows makes durable for good ({@link OverwriteFence#freeze}). Not under the monitor.
     */
    OverwriteFence.Frozen freeze() {
        return fence.freeze(this::end);
    }

    /** Where the next reservation starts, or a later point. */
    private synchronized LogPosition end() {
        LogSegment segment = active;
        return segment == null ? new LogPosition(nextNumber, 0) : new LogPosition(segment.number, activeEnd);
    }

    /** Seals the active segment and starts the next one, which it returns. Under the monitor. */
    private LogSegment roll() {
        LogSegment sealed = active;
        if (sealed != null) {
            sealed.sealed = true;
        }
        int number = nextNumber++;
        Path file = dir.resolve(String.format("%010d%s", number, SUFFIX));
        Path reused = free.poll();
        try {
            if (reused != null) {
                Files.move(reused, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            }
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            try {
                syncDirectory();
            } catch (IOException e) {
                channel.close();
                throw durability.failed("value log directory " + dir, e);
            }
            LogSegment started = new LogSegment(number, file, channel, NoWaitReads.open(file), 0);
            active = started;
            activeEnd = 0;
            segments.put(number, started);
            return started;
        } catch (IOException e) {
            throw failure("cannot create value log segment " + file, e);
        }
    }

    private void syncDirectory() throws IOException {
        try (FileChannel directory = FileChannel.open(dir, StandardOpenOption.READ)) {
            directory.force(true);
        }
    }

    /** Seals the active segment: the next reservation starts a new one. */
    synchronized void sealActive() {
        if (active != null) {
            active.sealed = true;
            active = null;
        }
    }

    /** Numbers of every segment. */
    Set<Integer> allSegments() {
        return Set.copyOf(segments.keySet());
    }

    long segmentBytes() {
        return segmentBytes;
    }

    /** Reads {@code dst.remaining()} bytes at a position of a segment. Under {@link #readLock}. */
    void read(int segmentNumber, long position, ByteBuffer dst) {
        LogSegment segment = pointedAt(segmentNumber);
        try {
            readFully(segment, false, position, dst);
        } catch (IOException e) {
            throw new StoreException("reading value log segment " + segment.file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes slots of a segment's CRC table ({@code entries}: {@link CrcSlot#LENGTH} each, from
     * slot {@code firstSlot}), creating the table file on first use, and marks the segment for the
     * next {@link #sync}. The caller holds the blocks' stripe locks.
     */
    void writeTable(int segmentNumber, long firstSlot, ByteBuffer entries) {
        writeFully(segmentNumber, true, firstSlot * CrcSlot.LENGTH, entries);
    }

    /** Reads slots of a segment's CRC table into {@code into} (to its limit). Under {@link #readLock}. */
    void readTable(int segmentNumber, long firstSlot, ByteBuffer into) {
        LogSegment segment = pointedAt(segmentNumber);
        try {
            readFully(segment, true, firstSlot * CrcSlot.LENGTH, into);
        } catch (IOException e) {
            throw new StoreException(
                    "reading the CRC table of value log segment " + segmentNumber + ": " + e.getMessage(), e);
        }
    }

    /**
     * {@link #readTable}, or false when the segment has no table or the table ends before the
     * slots: for a block whose pointer carries its own CRCs, the table says whether it was
     * overwritten in place since. Under {@link #readLock}.
     */
    boolean readTableIfPresent(int segmentNumber, long firstSlot, ByteBuffer into) {
        LogSegment segment = pointedAt(segmentNumber);
        try {
            FileChannel table = segment.existingTable(dir);
            if (table == null || table.size() < (firstSlot * CrcSlot.LENGTH) + into.remaining()) {
                return false;
            }
            readFully(segment, true, firstSlot * CrcSlot.LENGTH, into);
            return true;
        } catch (IOException e) {
            throw new StoreException(
                    "reading the CRC table of value log segment " + segmentNumber + ": " + e.getMessage(), e);
        }
    }

    /**
     * {@link #readTable} if the table is open and the page cache holds every byte of the slots
     * now; false (with {@code into}'s bytes undefined) otherwise, without waiting. Under
     * {@link #readLock}.
     */
    boolean readTableNoWait(int segmentNumber, long firstSlot, ByteBuffer into) {
        LogSegment segment = segments.get(segmentNumber);
        return segment != null && segment.table != null
                && NoWaitReads.read(segment.tableNoWaitFd, firstSlot * CrcSlot.LENGTH, into);
    }

    /** The segment a block pointer names; its absence is an error. */
    private LogSegment pointedAt(int segmentNumber) {
        LogSegment segment = segments.get(segmentNumber);
        if (segment == null) {
            throw new StoreException(
                    "block data points at value log segment " + segmentNumber + ", which does not exist");
        }
        return segment;
    }

    /** Reads all of {@code dst} at {@code at} of a segment or its CRC table; running out is an error naming where. */
    private void readFully(LogSegment segment, boolean table, long at, ByteBuffer dst) throws IOException {
        FileChannel channel = table ? segment.existingTable(dir) : segment.channel;
        while (dst.hasRemaining()) {
            int n = channel == null ? -1 : channel.read(dst, at);
            if (n < 0) {
                throw new StoreException(table
                        ? "a block pointer leads to slot " + at / CrcSlot.LENGTH
                                + " of the CRC table of value log segment "
                                + segment.number + ", which " + (channel == null ? "does not exist" : "ends before it")
                        : "block data at " + at + " of value log segment " + segment.number + " lies past its end ("
                                + segment.channel.size() + " bytes)");
            }
            at += n;
        }
    }

    /**
     * {@link #read} if the page cache holds every byte now, without waiting for the disk; false
     * (with {@code dst}'s bytes undefined) when it does not or the segment is gone. Under
     * {@link #readLock}.
     */
    boolean readNoWait(int segmentNumber, long position, ByteBuffer dst) {
        LogSegment segment = segments.get(segmentNumber);
        return segment != null && NoWaitReads.read(segment.noWaitFd, position, dst);
    }

    /**
     * Overwrites bytes a live pointer leads to (a block overwritten in place) and marks the segment
     * for the next {@link #sync}. The caller holds the block's stripe lock and checked that the
     * segment is not {@link #isCleaning being cleaned}.
     */
    void overwrite(int segmentNumber, long position, ByteBuffer src) {
        writeFully(segmentNumber, false, position, src);
    }

    /** Writes all of {@code src} at {@code at} of a segment or its CRC table, and marks the segment for the next {@link #sync}. */
    private void writeFully(int segmentNumber, boolean table, long at, ByteBuffer src) {
        removal.readLock().lock();
        try {
            LogSegment segment = segments.get(segmentNumber);
            if (segment == null) {
                throw new StoreException("overwrite of " + (table ? "the CRC table of " : "") + "value log segment "
                        + segmentNumber + ", which does not exist");
            }
            if (table) {
                writeAll(segment.table(dir), src, at);
            } else {
                segment.write(src, at);
            }
            unsynced.add(segment);
            walCopies.uncoveredWrite();
        } catch (IOException e) {
            throw failure("overwriting " + (table ? "the CRC table of " : "") + "value log segment " + segmentNumber,
                    e);
        } finally {
            removal.readLock().unlock();
        }
    }

    /** Writes all of {@code src} at {@code at} of {@code channel}. */
    static void writeAll(FileChannel channel, ByteBuffer src, long at) throws IOException {
        while (src.hasRemaining()) {
            at += channel.write(src, at);
        }
    }

    /**
     * Marks segments the cleaner is emptying: from now on no write overwrites bytes in them (it
     * appends instead), so that once every pointer into them was swapped under its stripe lock
     * none can lead back into them.
     */
    void markCleaning(Collection<Integer> numbers) {
        cleaning.addAll(numbers);
    }

    void unmarkCleaning(Collection<Integer> numbers) {
        cleaning.removeAll(numbers);
    }

    boolean isCleaning(int segmentNumber) {
        return !cleaning.isEmpty() && cleaning.contains(segmentNumber);
    }

    /**
     * Makes every byte written to a finished or still-running reservation before this call durable
     * (fdatasync of each segment written since the last sync). Called with the WAL sync that
     * makes the pointers durable, and before RocksDB flushes a memtable ({@link FlushOrder}); tells
     * the fence what it made durable ({@link OverwriteFence#durableBefore}). Fails, and from then
     * on always fails, once a sync of the store failed ({@link Durability}).
     */
    void sync() {
        // one at a time: a sync that finds the set empty while another forces what it took
        // would return before those bytes are durable
        syncing.lock();
        try {
            long appendedNow = appended.get();
            LogPosition written = fence.writtenBefore(end());
            long covered = walCopies.beforeSync();
            syncUnsynced();
            walCopies.synced(covered);
            fence.durableBefore(written);
            appendedSynced = appendedNow;
        } finally {
            syncing.unlock();
        }
    }

    /**
     * Syncs the log without freezing it while at least {@link #SYNC_AHEAD_BYTES} are not known to
     * be durable (at most {@link #SYNC_AHEAD_ROUNDS} times, each covering what was appended during
     * the one before). Called before a {@link #freeze}: from a freeze until its sync returns,
     * frozen bytes not yet durable are not overwritten in place, and after a first write of
     * gigabytes that sync took seconds, during which a rewrite appended what it would have
     * overwritten. Returns whether it synced.
     */
    boolean syncAhead() {
        boolean synced = false;
        for (int round = 0; round < SYNC_AHEAD_ROUNDS && appended.get() - appendedSynced >= SYNC_AHEAD_BYTES; round++) {
            sync();
            synced = true;
        }
        return synced;
    }

    private void syncUnsynced() {
        durability.check();
        for (LogSegment segment : unsynced) {
            unsynced.remove(segment);
            try {
                segment.channel.force(false);
                FileChannel table = segment.table;
                if (table != null) {
                    table.force(false);
                }
            } catch (ClosedChannelException e) {
                if (segments.get(segment.number) == segment) {
                    throw durability.failed("value log segment " + segment.file, e);
                }
                // removed meanwhile: the cleaner removes only segments whose pointers all moved
            } catch (IOException e) {
                // not put back for a retry: Linux reported the lost writeback once, a retry would pass
                throw durability.failed("value log segment " + segment.file, e);
            }
        }
    }

    boolean hasUnsynced() {
        return !unsynced.isEmpty();
    }

    /** Which writes since the last {@link #sync} have a copy in the WAL. */
    WalCopies walCopies() {
        return walCopies;
    }

    /**
     * At open, while RocksDB replays its WAL and before anything is appended: writes back bytes a
     * replayed batch copied ({@link WalCopies}) that a power cut took from the segment. False when
     * the segment is gone.
     */
    boolean restore(int segmentNumber, long position, ByteBuffer bytes) {
        LogSegment segment = segments.get(segmentNumber);
        if (segment == null) {
            return false;
        }
        long end = position + bytes.remaining();
        writeFully(segmentNumber, false, position, bytes);
        segment.size = Math.max(segment.size, end);
        return true;
    }

    /** Bytes reserved since the store was opened. */
    long appendedBytes() {
        return appended.get();
    }

    /** Total size of every segment. */
    long totalBytes() {
        long total = 0;
        for (LogSegment segment : segments.values()) {
            total += segment.size;
        }
        return total;
    }

    int segmentCount() {
        return segments.size();
    }

    /** Sizes of the segments that are settled now, by number. */
    Map<Integer, Long> settledSegments() {
        Map<Integer, Long> settled = new TreeMap<>();
        for (LogSegment segment : segments.values()) {
            if (segment.sealed && segment.writers.get() == 0) {
                settled.put(segment.number, segment.size);
            }
        }
        return settled;
    }

    /**
     * Removes settled segments that no pointer refers to any more (the caller relocated every
     * pointer into them, durably) and deletes their files.
     */
    void remove(Collection<Integer> numbers) {
        List<LogSegment> removed = new ArrayList<>();
        removal.writeLock().lock();
        try {
            for (int number : numbers) {
                LogSegment segment = segments.remove(number);
                if (segment != null) {
                    removed.add(segment);
                    unsynced.remove(segment);
                }
            }
        } finally {
            removal.writeLock().unlock();
        }
        for (LogSegment segment : removed) {
            try {
                segment.close();
                Files.deleteIfExists(segment.tableFile(dir));
                synchronized (this) {
                    if (free.size() < FREE_SEGMENTS && !closed) {
                        Path spare = dir.resolve(String.format("%010d%s", segment.number, FREE_SUFFIX));
                        Files.move(segment.file, spare, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                        free.add(spare);
                        continue;
                    }
                }
                Files.deleteIfExists(segment.file);
            } catch (IOException e) {
                throw new StoreException("cannot remove value log segment " + segment.file + ": " + e.getMessage(), e);
            }
        }
    }

    /** Removed segment files kept for reuse. */
    synchronized int freeSegments() {
        return free.size();
    }

    @Override
    public synchronized void close() {
        closed = true;
        for (LogSegment segment : segments.values()) {
            try {
                segment.close();
            } catch (IOException e) {
                log.warn("closing value log segment {} failed", segment.file, e);
            }
        }
        segments.clear();
    }

    /** Space in a segment for one writer; {@link #finish} once its pointers are in RocksDB (or not). */
    static final class Reservation {
        private final ValueLog log;
        private final LogSegment segment;
        private final long position;
        private final int length;
        private boolean finished;
        private boolean copiedToWal;
        private boolean durable;

        private Reservation(ValueLog log, LogSegment segment, long position, int length) {
            this.log = log;
            this.segment = segment;
            this.position = position;
            this.length = length;
        }

        int segment() {
            return segment.number;
        }

        long position() {
            return position;
        }

        int length() {
            return length;
        }

        /** Its bytes are copied into the batch of its pointers ({@link WalCopies}): a flush need not sync them. */
        void copiedToWal() {
            copiedToWal = true;
        }

        /** Its bytes were written before a {@link #force} of its segment returned: a flush need not sync them. */
        void madeDurable() {
            durable = true;
        }

        /** Writes all of {@code src} at {@code offset} bytes into the reservation. */
        void write(long offset, ByteBuffer src) {
            if (offset < 0 || offset + src.remaining() > length) {
                throw new IllegalArgumentException("write of " + src.remaining() + " bytes at " + offset
                        + " outside a reservation of " + length);
            }
            try {
                segment.write(src, position + offset);
            } catch (IOException e) {
                throw failure("writing value log segment " + segment.file, e);
            }
        }

        /**
         * Makes what was written to the reservation durable now (fdatasync of its segment), for a
         * copy whose pointer replaces one to bytes that already were: the new pointer may reach
         * the disk with the WAL at any time, and must never lead to bytes that did not.
         */
        void force() {
            log.durability.check();
            try {
                segment.channel.force(false);
            } catch (IOException e) {
                throw log.durability.failed("value log segment " + segment.file, e);
            }
            // durable bytes a pointer will lead to at once: never overwritten in place from now on
            log.fence.freezeThrough(new LogPosition(segment.number, position + length));
        }

        /**
         * Ends the reservation once its writes are done. Only now is the segment marked for the
         * next {@link #sync}: marked at reservation time, a sync running between the reservation
         * and the write would unmark it without covering the write, and a later flush would
         * miss it.
         */
        void finish() {
            if (!finished) {
                finished = true;
                log.unsynced.add(segment);
                if (!copiedToWal && !durable) {
                    log.walCopies.uncoveredWrite();
                }
                segment.writers.decrementAndGet();
                log.fence.finished(this);
            }
        }
    }
}

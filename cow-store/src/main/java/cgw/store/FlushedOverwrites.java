package cgw.store;

import cgw.store.key.CrcSlot;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code STORE/values/overwrites}: the ranges of flushed bytes that writes since the last flush
 * may have overwritten in place, written and synced before the first such overwrite of a range,
 * so that after a power cut the store knows where a block may hold a write whose CRC never
 * reached the disk (or an earlier unflushed write of the block than its table slot names). Open
 * reads those ranges ({@link #scrub}) before RocksDB replays its WAL and takes each block's bytes
 * as they are: any of them is the flushed content or a later write, as after a power cut on a
 * disk with a volatile cache. Everywhere else a block whose bytes match no CRC is damage.
 *
 * <p>A range is recorded for a <em>window</em>, the time between two freezes of the log
 * ({@link OverwriteFence#freeze}); the flush that follows a freeze makes the window's overwrites
 * durable and {@link #covered} records that in the header, which needs no sync of its own (a lost
 * header only makes the next open read more). Ranges are whole chunks of {@link #CHUNK_BYTES},
 * clipped to what was durable when recorded: one sync per chunk and window, not per write.
 *
 * <pre>
 *   header, bytes 0-511:    magic u32 | version u32 | covered window u64 | crc32c u32
 *   record i at 512 + 64 i: segment u32 | block size u32 | start u64 | end u64 | window u64 | crc32c u32
 * </pre>
 *
 * <p>Records go round a ring of {@link #RECORDS}; one still needed (its window not covered) is
 * never overwritten: a write that would need its slot appends instead of overwriting in place.
 *
 * <p>Threads: {@link #mark} from writers holding the fence's permit; {@link #closeWindow} under
 * its write side, so never during a mark; the monitor serialises records and the header.
 */
final class FlushedOverwrites implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FlushedOverwrites.class);
    static final String FILE = "overwrites";
    static final int CHUNK_SHIFT = 24;
    static final long CHUNK_BYTES = 1L << CHUNK_SHIFT;
    static final int RECORDS = 4096;
    private static final int MAGIC = 0x43_47_57_4F; // "CGWO"
    private static final int VERSION = 1;
    private static final int HEADER_BYTES = 512;
    private static final int HEADER_CRC_OFFSET = 16;
    private static final int RECORD_BYTES = 64;
    private static final int RECORD_CRC_OFFSET = 32;
    private static final int SCRUB_BYTES = 1 << 20;

    /** A range that may hold overwrites no flush covered. */
    record Range(int segment, int blockSize, long start, long end, long window) {
    }

    private final Path file;
    private final FileChannel channel;
    private final Durability durability;
    private final List<Range> unflushed;
    private final ByteBuffer record = ByteBuffer.allocate(RECORD_BYTES);
    private final ByteBuffer header = ByteBuffer.allocate(HEADER_CRC_OFFSET + 4);
    /** Chunk key ({@link #key}) to the end of the range recorded for it in this window. */
    private final ConcurrentHashMap<Long, Long> marked = new ConcurrentHashMap<>();
    private final long[] recordWindow = new long[RECORDS]; // guarded by this
    private int next; // guarded by this
    private long covered; // guarded by this
    /** The newest window a record names: the header needs writing only while it is not covered there. */
    private long recorded; // guarded by this
    private long headerCovered; // guarded by this
    private volatile long window;
    private volatile int blockSize;

    private FlushedOverwrites(Path file, FileChannel channel, Durability durability, List<Range> unflushed,
            long lastWindow, long coveredOnDisk) {
        this.file = file;
        this.channel = channel;
        this.durability = durability;
        this.unflushed = unflushed;
        this.covered = lastWindow;
        this.headerCovered = coveredOnDisk;
        this.window = lastWindow + 1;
    }

    /** Opens (creating when missing) the record in {@code valueLogDir}; {@link #unflushed} lists what to scrub. */
    static FlushedOverwrites open(Path valueLogDir, Durability durability) {
        Path file = valueLogDir.resolve(FILE);
        try {
            boolean created = !Files.exists(file);
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            try {
                if (created || channel.size() < HEADER_BYTES + (long) RECORDS * RECORD_BYTES) {
                    // written out once: a later record's sync then has no block to allocate
                    ByteBuffer zeros = ByteBuffer.allocate(HEADER_BYTES + RECORDS * RECORD_BYTES);
                    long at = channel.size();
                    zeros.position((int) at);
                    while (zeros.hasRemaining()) {
                        at += channel.write(zeros, at);
                    }
                    channel.force(true);
                    try (FileChannel directory = FileChannel.open(valueLogDir, StandardOpenOption.READ)) {
                        directory.force(true);
                    }
                }
                ByteBuffer all = ByteBuffer.allocate(HEADER_BYTES + RECORDS * RECORD_BYTES);
                while (all.hasRemaining() && channel.read(all, all.position()) > 0) {
                    // until full or at the end
                }
                long coveredOnDisk = decodeHeader(all);
                long last = coveredOnDisk;
                List<Range> unflushed = new ArrayList<>();
                for (int i = 0; i < RECORDS; i++) {
                    Range range = decodeRecord(all, HEADER_BYTES + i * RECORD_BYTES);
                    if (range != null) {
                        last = Math.max(last, range.window());
                        if (range.window() > coveredOnDisk) {
                            unflushed.add(range);
                        }
                    }
                }
                return new FlushedOverwrites(file, channel, durability, unflushed, last, coveredOnDisk);
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
        } catch (IOException e) {
            throw StoreFullException.failure("cannot open " + file + ": " + e.getMessage(), e);
        }
    }

    private static long decodeHeader(ByteBuffer all) {
        CRC32C crc = new CRC32C();
        crc.update(all.duplicate().position(0).limit(HEADER_CRC_OFFSET));
        boolean whole = all.getInt(0) == MAGIC && all.getInt(4) == VERSION
                && all.getInt(HEADER_CRC_OFFSET) == (int) crc.getValue();
        return whole ? all.getLong(8) : 0; // none (or torn): every record is scrubbed
    }

    private static @Nullable Range decodeRecord(ByteBuffer all, int at) {
        CRC32C crc = new CRC32C();
        crc.update(all.duplicate().position(at).limit(at + RECORD_CRC_OFFSET));
        int blockSize = all.getInt(at + 4);
        if (all.getInt(at + RECORD_CRC_OFFSET) != (int) crc.getValue() || blockSize <= 0) {
            return null; // never written, or torn
        }
        return new Range(all.getInt(at), blockSize, all.getLong(at + 8), all.getLong(at + 16), all.getLong(at + 24));
    }

    /** The ranges the last open recorded and no flush covered: what {@link #scrub} reads. */
    List<Range> unflushed() {
        return List.copyOf(unflushed);
    }

    /** From now on ranges are recorded for blocks of {@code size} bytes; none are before. */
    void useBlockSize(int size) {
        this.blockSize = size;
    }

    /**
     * Whether {@code [start, end)} of {@code segment}, flushed bytes (before {@code durable}), may
     * be overwritten in place in this window: its chunks are recorded, now (a write and a sync,
     * only with {@code mayWait}) or earlier in the window. False when the ring is full of ranges
     * still needed, or the block size is not known yet. Under the fence's permit.
     */
    boolean mark(int segment, long start, long end, LogPosition durable, boolean mayWait) {
        if (blockSize == 0) {
            return false;
        }
        for (long chunk = start >>> CHUNK_SHIFT; chunk <= (end - 1) >>> CHUNK_SHIFT; chunk++) {
            Long have = marked.get(key(segment, chunk));
            if (have != null && have >= Math.min(end, (chunk + 1) << CHUNK_SHIFT)) {
                continue;
            }
            if (!mayWait || !record(segment, chunk, durable)) {
                return false;
            }
        }
        return true;
    }

    private static long key(int segment, long chunk) {
        return (long) segment << 32 | chunk;
    }

    /** Records the chunk up to what is durable of it, and syncs. */
    private synchronized boolean record(int segment, long chunk, LogPosition durable) {
        long from = chunk << CHUNK_SHIFT;
        long to = segment < durable.segment() ? from + CHUNK_BYTES : Math.min(from + CHUNK_BYTES, durable.position());
        Long have = marked.get(key(segment, chunk));
        if (have != null && have >= to) {
            return true;
        }
        if (recordWindow[next] > covered) {
            log.debug("{} holds {} ranges no flush covered yet: appending instead of overwriting in place", file,
                    RECORDS);
            return false;
        }
        long current = window;
        record.clear().putInt(segment).putInt(blockSize).putLong(from).putLong(to).putLong(current);
        CRC32C crc = new CRC32C();
        crc.update(record.duplicate().flip());
        record.putInt((int) crc.getValue()).clear();
        try {
            long at = HEADER_BYTES + (long) next * RECORD_BYTES;
            while (record.hasRemaining()) {
                at += channel.write(record, at);
            }
            channel.force(false);
        } catch (IOException e) {
            throw durability.failed(file.toString(), e);
        }
        recordWindow[next] = current;
        recorded = Math.max(recorded, current);
        next = (next + 1) % RECORDS;
        marked.put(key(segment, chunk), to);
        return true;
    }

    /** Ends the window: returns it, for {@link #covered} once a sync made it durable. Under the fence's write side. */
    long closeWindow() {
        long closed = window;
        window = closed + 1;
        marked.clear();
        return closed;
    }

    /** A sync made every overwrite of windows up to {@code closed} durable: their ranges are no longer needed. */
    synchronized void covered(long closed) {
        if (closed <= covered) {
            return;
        }
        covered = closed;
        if (recorded > headerCovered) { // else nothing recorded since the header was written: most flushes
            writeHeader(closed);
        }
    }

    /** Writes {@code closed} into the header as the newest covered window (no sync). */
    private synchronized void writeHeader(long closed) {
        headerCovered = closed;
        header.clear().putInt(MAGIC).putInt(VERSION).putLong(closed);
        CRC32C crc = new CRC32C();
        crc.update(header.duplicate().flip());
        header.putInt((int) crc.getValue()).flip();
        try {
            long at = 0;
            while (header.hasRemaining()) {
                at += channel.write(header, at);
            }
        } catch (IOException e) {
            throw StoreFullException.failure("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Takes the bytes of every block of the {@link #unflushed} ranges as they are: a block whose
     * bytes match neither CRC of its table slot gets a slot naming them (a read then finds them
     * through its pointer's table form, or through {@link PointerReads#overwrittenTo} when its
     * pointer carries older CRCs); then syncs the tables and records that nothing is left to
     * read. At open, before RocksDB replays its WAL (whose check reads these slots). Returns how
     * many blocks were taken as they are.
     */
    long scrub(ValueLog valueLog) {
        if (unflushed.isEmpty()) {
            return 0; // a clean close, or nothing overwritten in place since the last flush
        }
        long taken = 0;
        long read = 0;
        ByteBuffer bytes = ByteBuffer.allocateDirect(SCRUB_BYTES);
        ByteBuffer slots = ByteBuffer.allocateDirect(SCRUB_BYTES / 512 * CrcSlot.LENGTH);
        ByteBuffer entry = ByteBuffer.allocateDirect(CrcSlot.LENGTH);
        CRC32C crc = new CRC32C();
        for (Range range : unflushed) {
            long length = valueLog.segmentLength(range.segment()); // -1: removed since, nothing points there
            int size = range.blockSize();
            long end = Math.min(range.end(), length) / size * size;
            // a run of blocks per read: one pread of bytes and one of their slots
            for (long at = range.start(); at < end; at += SCRUB_BYTES) {
                int blocks = (int) (Math.min(SCRUB_BYTES, end - at) / size);
                valueLog.read(range.segment(), at, bytes.clear().limit(blocks * size));
                boolean table = valueLog.readTableIfPresent(range.segment(), at / size,
                        slots.clear().limit(blocks * CrcSlot.LENGTH));
                read += (long) blocks * size;
                for (int b = 0; b < blocks; b++) {
                    crc.reset();
                    crc.update(bytes.limit((b + 1) * size).position(b * size));
                    int actual = (int) crc.getValue();
                    int named = table ? CrcSlot.crc(slots, b) : 0;
                    int previous = table ? CrcSlot.previousCrc(slots, b) : 0;
                    if ((named | previous) == 0 || actual != named && actual != previous) {
                        CrcSlot.append(entry.clear(), actual, actual, 0);
                        valueLog.writeTable(range.segment(), at / size + b, entry.flip());
                        taken++;
                    }
                }
            }
        }
        valueLog.sync();
        synchronized (this) {
            writeHeader(window - 1);
            try {
                channel.force(false);
            } catch (IOException e) {
                throw durability.failed(file.toString(), e);
            }
        }
        log.info("{}: read {} MiB overwritten in place since the last flush before a crash; {} blocks held"
                + " unflushed writes and are kept as they are", file, read >> 20, taken);
        unflushed.clear();
        return taken;
    }

    /** Writes the header down for the next open (after the final flush covered every window). */
    @Override
    public synchronized void close() throws IOException {
        try {
            channel.force(false);
        } finally {
            channel.close();
        }
    }
}

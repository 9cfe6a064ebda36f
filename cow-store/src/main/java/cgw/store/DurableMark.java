package cgw.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;

/**
 * {@code STORE/values/durable}: the point of the value log before which every byte is on the disk
 * and never changes again, with the store's block size, for {@link ReplayCheck}: it runs while
 * RocksDB opens, before the catalog can be read, and must know where to start judging. A mark is
 * written after the log's sync that made it true and reaches the disk with the next flush's
 * syncs, so it trails the log by one flush at most.
 *
 * <p>Two copies, in two sectors, written in turn (a write goes to the copy the last sync did not
 * make durable), each with a sequence number and a CRC: a write cut short by a power cut spoils
 * only the copy being written, and reading takes the newest whole one.
 *
 * <pre>
 *   0        4          8           16           20         24          32       36
 *   | magic  | version  | sequence  | block size | segment  | position  | crc32c |
 * </pre>
 *
 * <p>Threads: one at a time ({@link WalSync}'s monitor).
 */
final class DurableMark implements AutoCloseable {
    static final String FILE = "durable";
    private static final int MAGIC = 0x43_47_57_44; // "CGWD"
    private static final int VERSION = 1;
    private static final int COPY_BYTES = 512;
    private static final int LENGTH = 36;
    private static final int SEQUENCE_OFFSET = 8;
    private static final int BLOCK_SIZE_OFFSET = 16;
    private static final int SEGMENT_OFFSET = 20;
    private static final int POSITION_OFFSET = 24;
    private static final int CRC_OFFSET = 32;

    /** A mark as read from the file. */
    record Stored(int blockSize, LogPosition through) {
    }

    private final Path file;
    private final FileChannel channel;
    private final ByteBuffer buffer = ByteBuffer.allocate(LENGTH);
    private long sequence;
    private @Nullable Stored written;
    private boolean pending;
    private volatile LogPosition durable;

    private DurableMark(Path file, FileChannel channel, long sequence, @Nullable Stored stored) {
        this.file = file;
        this.channel = channel;
        this.sequence = sequence;
        this.written = stored;
        this.durable = stored == null ? LogPosition.START : stored.through();
    }

    /** The newest whole mark in {@code valueLogDir}, or null when there is none (a new store, or one of an earlier version). */
    static @Nullable Stored read(Path valueLogDir) {
        Copy newest = newest(valueLogDir.resolve(FILE));
        return newest == null ? null : newest.stored;
    }

    /** Opens the mark of the value log in {@code valueLogDir}, creating its file when missing. */
    static DurableMark open(Path valueLogDir) {
        Path file = valueLogDir.resolve(FILE);
        Copy newest = newest(file);
        try {
            boolean created = !Files.exists(file);
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            if (created) {
                try (FileChannel directory = FileChannel.open(valueLogDir, StandardOpenOption.READ)) {
                    directory.force(true);
                } catch (IOException e) {
                    channel.close();
                    throw e;
                }
            }
            return new DurableMark(file, channel, newest == null ? 0 : newest.sequence,
                    newest == null ? null : newest.stored);
        } catch (IOException e) {
            throw StoreFullException.failure("cannot open " + file + ": " + e.getMessage(), e);
        }
    }

    private record Copy(long sequence, Stored stored) {
    }

    private static @Nullable Copy newest(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new StoreException("cannot read " + file + ": " + e.getMessage(), e);
        }
        Copy newest = null;
        for (int at = 0; at + LENGTH <= bytes.length && at < 2 * COPY_BYTES; at += COPY_BYTES) {
            Copy copy = decode(ByteBuffer.wrap(bytes, at, LENGTH).slice());
            if (copy != null && (newest == null || copy.sequence > newest.sequence)) {
                newest = copy;
            }
        }
        return newest;
    }

    private static @Nullable Copy decode(ByteBuffer copy) {
        CRC32C crc = new CRC32C();
        crc.update(copy.duplicate().limit(CRC_OFFSET));
        if (copy.getInt(0) != MAGIC || copy.getInt(4) != VERSION || (int) crc.getValue() != copy.getInt(CRC_OFFSET)) {
            return null;
        }
        return new Copy(copy.getLong(SEQUENCE_OFFSET), new Stored(copy.getInt(BLOCK_SIZE_OFFSET),
                new LogPosition(copy.getInt(SEGMENT_OFFSET), copy.getLong(POSITION_OFFSET))));
    }

    /** The mark the last successful {@link #sync} made durable ({@link LogPosition#START} before any). */
    LogPosition durable() {
        return durable;
    }

    /** Whether a mark was written that no sync has made durable yet. */
    boolean pending() {
        return pending;
    }

    /**
     * Writes a new mark into the copy the last sync did not make durable; nothing when it says
     * what the newest one does. Once per {@link #sync}: a second write would overwrite the durable copy.
     */
    void write(int blockSize, LogPosition through) {
        Stored mark = new Stored(blockSize, through);
        if (mark.equals(written)) {
            return;
        }
        if (pending) {
            throw new IllegalStateException("a mark of " + file + " was written and not synced");
        }
        long next = sequence + 1;
        buffer.clear().putInt(MAGIC).putInt(VERSION).putLong(next).putInt(blockSize).putInt(through.segment())
                .putLong(through.position());
        CRC32C crc = new CRC32C();
        crc.update(buffer.duplicate().flip());
        buffer.putInt((int) crc.getValue()).flip();
        try {
            long at = (next & 1) * COPY_BYTES;
            while (buffer.hasRemaining()) {
                at += channel.write(buffer, at);
            }
        } catch (IOException e) {
            throw StoreFullException.failure("cannot write " + file + ": " + e.getMessage(), e);
        }
        sequence = next;
        written = mark;
        pending = true;
    }

    /** Makes the last written mark durable (fdatasync); throws the {@link IOException} of a failed sync. */
    void sync() throws IOException {
        if (!pending) {
            return;
        }
        channel.force(false);
        pending = false;
        durable = written == null ? durable : written.through();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}

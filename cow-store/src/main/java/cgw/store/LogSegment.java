package cgw.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * One segment file of the {@link ValueLog} ({@code NNNNNNNNNN.seg}) and its CRC table
 * ({@code NNNNNNNNNN.crc}), opened when first needed. Threads: any; see the fields.
 */
final class LogSegment {
    final int number;
    final Path file;
    final FileChannel channel;
    /** A descriptor for {@link NoWaitReads}, -1 when there is none; closed with the channel. */
    final int noWaitFd;
    final AtomicInteger writers = new AtomicInteger();
    volatile boolean sealed;
    volatile long size;

    /** The CRC table, opened when first needed; guarded by this segment for opening. */
    volatile @Nullable FileChannel table;
    /** A descriptor of the table for {@link NoWaitReads}, opened with it; -1 when there is none. */
    volatile int tableNoWaitFd = -1;
    /** Held while writing to {@link #channel}; see {@link #write}. */
    private final ReentrantLock writing = new ReentrantLock();

    LogSegment(int number, Path file, FileChannel channel, int noWaitFd, long size) {
        this.number = number;
        this.file = file;
        this.channel = channel;
        this.noWaitFd = noWaitFd;
        this.size = size;
    }

    /**
     * Writes all of {@code src} at {@code at} of the segment, one writer at a time. The kernel
     * lets one buffered write into a file proceed at a time anyway (ext4 holds the inode's
     * lock across it), and a writer waiting for that lock spins as long as the holder runs:
     * a 1 MiB write's whole copy. Threads appending to the active segment (store threads,
     * the cleaner) spent two fifths of their appending time spinning there (a quarter of the
     * store threads' CPU, 1 MiB rewrites after random writes); waiting here, they sleep.
     */
    void write(ByteBuffer src, long at) throws IOException {
        writing.lock();
        try {
            ValueLog.writeAll(channel, src, at);
        } finally {
            writing.unlock();
        }
    }

    Path tableFile(Path dir) {
        return dir.resolve(String.format("%010d%s", number, ValueLog.TABLE_SUFFIX));
    }

    /** The table, created (and its name made durable) when missing. */
    FileChannel table(Path dir) throws IOException {
        FileChannel open = table;
        if (open == null) {
            synchronized (this) {
                open = table;
                if (open == null) {
                    Path path = tableFile(dir);
                    boolean created = !Files.exists(path);
                    open = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ,
                            StandardOpenOption.WRITE);
                    if (created) {
                        try (FileChannel directory = FileChannel.open(dir, StandardOpenOption.READ)) {
                            directory.force(true);
                        }
                    }
                    tableNoWaitFd = NoWaitReads.open(path);
                    table = open;
                }
            }
        }
        return open;
    }

    /** The table if its file exists, else null. */
    @Nullable
    FileChannel existingTable(Path dir) throws IOException {
        return table != null || Files.exists(tableFile(dir)) ? table(dir) : null;
    }

    void close() throws IOException {
        NoWaitReads.close(noWaitFd);
        NoWaitReads.close(tableNoWaitFd);
        channel.close();
        FileChannel open = table;
        if (open != null) {
            open.close();
        }
    }
}

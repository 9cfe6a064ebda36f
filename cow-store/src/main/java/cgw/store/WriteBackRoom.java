package cgw.store;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether a buffered write may enter the page cache now without being throttled. Linux lets a
 * writer dirty pages freely while the dirty and under-writeback pages stay below the middle of the
 * background and the hard dirty thresholds (the "freerun" ceiling of {@code balance_dirty_pages});
 * past it, the writer sleeps so that the disk can catch up. {@code /proc/vmstat} gives all four
 * numbers ({@code nr_dirty}, {@code nr_writeback}, {@code nr_dirty_threshold},
 * {@code nr_dirty_background_threshold}, in pages), so a thread that must not wait (an NBD event
 * loop) can ask before it writes.
 *
 * <p>The numbers are read again when more than {@link #REFRESH_NANOS} old, by the caller that
 * notices (one at a time; the others use the last reading), and a write counts as room only with
 * {@link #MARGIN_BYTES} to spare, more than writes can dirty between two readings. Without
 * {@code /proc/vmstat} (not Linux) there is never room. What this does not see: a memory cgroup's
 * own dirty limits, and the per-device share of the threshold a device gets when it writes back
 * slower than others; a caller that must not wait still bounds how long a write took.
 *
 * <p>Threads: any.
 */
final class WriteBackRoom {
    private static final Logger log = LoggerFactory.getLogger(WriteBackRoom.class);
    static final long REFRESH_NANOS = 10_000_000;
    static final long MARGIN_BYTES = 256L << 20;
    private static final long PAGE_BYTES = 4096;

    private final Path vmstat;
    private final AtomicBoolean refreshing = new AtomicBoolean();
    private volatile long readAtNanos = System.nanoTime() - 2 * REFRESH_NANOS;
    /** Bytes that may still be dirtied before the freerun ceiling, as of the last reading; -1 when unknown. */
    private volatile long roomBytes = -1;
    private volatile boolean broken;

    WriteBackRoom(Path vmstat) {
        this.vmstat = vmstat;
    }

    static WriteBackRoom ofThisMachine() {
        return new WriteBackRoom(Path.of("/proc/vmstat"));
    }

    /** Whether {@code bytes} more dirty pages stay below the freerun ceiling, with the margin to spare. */
    boolean hasRoom(long bytes) {
        if (broken) {
            return false;
        }
        if (System.nanoTime() - readAtNanos > REFRESH_NANOS && refreshing.compareAndSet(false, true)) {
            try {
                roomBytes = read();
                readAtNanos = System.nanoTime();
            } finally {
                refreshing.set(false);
            }
        }
        long room = roomBytes;
        return room >= 0 && bytes + MARGIN_BYTES <= room;
    }

    /** The room now, from {@code /proc/vmstat}; -1 (and no more readings) when it cannot be read. */
    private long read() {
        String text;
        try {
            text = new String(Files.readAllBytes(vmstat), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            broken = true;
            log.info("cannot read {} ({}); writes that must not wait go to threads that may", vmstat, e.toString());
            return -1;
        }
        long dirty = field(text, "nr_dirty");
        long writeback = field(text, "nr_writeback");
        long threshold = field(text, "nr_dirty_threshold");
        long background = field(text, "nr_dirty_background_threshold");
        if (dirty < 0 || writeback < 0 || threshold < 0 || background < 0) {
            broken = true;
            log.info("{} lacks the dirty page counts; writes that must not wait go to threads that may", vmstat);
            return -1;
        }
        long freerun = (threshold + background) / 2;
        return Math.max(0, freerun - dirty - writeback) * PAGE_BYTES;
    }

    /** The value of the line {@code name value} of {@code text}, or -1 when there is none. */
    static long field(String text, String name) {
        int at = 0;
        while ((at = text.indexOf(name, at)) >= 0) {
            int end = at + name.length();
            if ((at == 0 || text.charAt(at - 1) == '\n') && end < text.length() && text.charAt(end) == ' ') {
                int eol = text.indexOf('\n', end);
                try {
                    return Long.parseLong(text.substring(end + 1, eol < 0 ? text.length() : eol).trim());
                } catch (NumberFormatException e) {
                    return -1;
                }
            }
            at = end;
        }
        return -1;
    }
}

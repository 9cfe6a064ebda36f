package cgw.backup;

import cgw.host.Libc;
import cgw.host.SyncLatch;
import java.io.IOException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code syncfs(2)} on a directory held open: one call makes every file of its file system
 * durable, as an {@code fsync} of each would, but with one device flush instead of one per file,
 * which is what makes a repository of many small chunks quick to sync. The directory stays
 * open from {@link #open} to {@link #close} because Linux (5.8 and later) reports to a syncfs the
 * writeback errors of the file system since its descriptor was opened: a descriptor opened just
 * for the call would miss a failure to write back a file written before. Reached through jnr-ffi;
 * where libc has no syncfs (not Linux) {@link #available} is false and callers fsync file by file.
 */
final class FileSystemSync implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FileSystemSync.class);
    private static final int O_RDONLY = 0;
    private static final int O_DIRECTORY = 0200000;

    private static final Libc LIBC = load();
    /** Why {@link #load} gave up, null when it did not: for the warning's reader and the tests. */
    private static Throwable loadFailure;

    private final Path dir;
    private int fd;
    /** Every sync fails after the first failure: Linux reports a writeback error once. */
    private final SyncLatch syncs = new SyncLatch();

    private FileSystemSync(Path dir, int fd) {
        this.dir = dir;
        this.fd = fd;
    }

    /**
     * Loads libc, tried three times: a failure here only costs speed, but it lasts for the life
     * of the process.
     */
    private static Libc load() {
        Throwable last = null;
        for (int attempt = 1; attempt <= 3; attempt++) {
            try {
                return Libc.load();
            } catch (RuntimeException | LinkageError e) {
                last = e;
            }
            try {
                Thread.sleep(10L * attempt);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        loadFailure = last;
        LOG.warn("syncfs(2) unavailable; directory repositories fsync each chunk (slower)", last);
        return null;
    }

    static boolean available() {
        return LIBC != null;
    }

    /** Why libc's syncfs could not be loaded, or null. */
    static Throwable loadFailure() {
        return loadFailure;
    }

    /** Opens {@code dir} for syncs of its file system; only when {@link #available}. */
    static FileSystemSync open(Path dir) throws IOException {
        int fd = LIBC.open(dir.toString(), O_RDONLY | O_DIRECTORY);
        if (fd < 0) {
            throw new IOException("open " + dir + ": " + lastError());
        }
        return new FileSystemSync(dir, fd);
    }

    /**
     * Makes everything written to the file system durable; fails on a writeback error since
     * {@link #open}, and from then on every time: a later call would not see that error again,
     * and nothing written before it can be trusted to be on the disk.
     */
    synchronized void sync() throws IOException {
        IOException failed = syncs.failure();
        if (failed != null) {
            throw new IOException("an earlier sync of " + dir + " failed (" + failed.getMessage()
                    + "); nothing written since this repository was opened is trusted", failed);
        }
        if (fd < 0) {
            throw new IOException("syncfs of " + dir + " after close");
        }
        if (LIBC.syncfs(fd) != 0) {
            throw syncs.fail(new IOException("syncfs of the file system holding " + dir + ": " + lastError()));
        }
    }

    @Override
    public synchronized void close() {
        if (fd >= 0) {
            LIBC.close(fd);
            fd = -1;
        }
    }

    private static String lastError() {
        return Libc.describe(Libc.errno());
    }
}

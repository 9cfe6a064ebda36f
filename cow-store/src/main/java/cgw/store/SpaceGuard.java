package cgw.store;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Refuses data writes while the store's file system has less than a reserve free, so that the
 * disk never fills under RocksDB: a RocksDB that met a full disk stops writing until resumed,
 * which its Java API cannot do, and deleting volumes to free space needs writes too. The free
 * space is asked of the file system (statvfs) every {@link #RECHECK_NANOS}, or sooner when the
 * bytes written since the last look could have eaten half of what lay above the reserve.
 *
 * <p>Threads: any.
 */
final class SpaceGuard {
    private static final long RECHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final FileStore fileStore;
    private final Path dir;
    private final long reserveBytes;
    private final AtomicLong writtenSinceCheck = new AtomicLong();
    private volatile long available = Long.MAX_VALUE;
    private volatile long checkedAtNanos = System.nanoTime() - 2 * RECHECK_NANOS;

    SpaceGuard(Path dir, long reserveBytes) {
        this.dir = dir;
        this.reserveBytes = reserveBytes;
        try {
            this.fileStore = Files.getFileStore(dir);
        } catch (IOException e) {
            throw new StoreException("cannot find the file system of " + dir + ": " + e.getMessage(), e);
        }
    }

    long reserveBytes() {
        return reserveBytes;
    }

    /** Admits a write of {@code bytes}, or throws {@link StoreFullException} when the reserve would be touched. */
    void admit(long bytes) {
        if (!tryAdmit(bytes)) {
            throw new StoreFullException("the store's file system (" + dir + ") has " + (available >> 20)
                    + " MiB free, and the last " + (reserveBytes >> 20) + " MiB are kept for the store's own"
                    + " metadata: free space on it, or delete volumes or snapshots", null);
        }
    }

    /** Admits a write of {@code bytes} and returns true, or returns false when the reserve would be touched. */
    boolean tryAdmit(long bytes) {
        long written = writtenSinceCheck.addAndGet(bytes);
        long headroom = available - reserveBytes;
        if (System.nanoTime() - checkedAtNanos > RECHECK_NANOS || written > headroom / 2) {
            refresh();
            written = writtenSinceCheck.get();
            headroom = available - reserveBytes;
        }
        return written <= headroom;
    }

    private synchronized void refresh() {
        try {
            available = fileStore.getUsableSpace();
        } catch (IOException e) {
            throw new StoreException("cannot read the free space of " + dir + ": " + e.getMessage(), e);
        }
        writtenSinceCheck.set(0);
        checkedAtNanos = System.nanoTime();
    }
}

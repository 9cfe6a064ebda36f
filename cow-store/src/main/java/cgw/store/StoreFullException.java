package cgw.store;

import org.jspecify.annotations.Nullable;
import org.rocksdb.RocksDBException;
import org.rocksdb.Status;

/**
 * The file system under the store is full (or over its quota): the write that met it did not
 * happen, and nothing acknowledged before was lost. Writes work again once space is freed
 * (deleting volumes or snapshots frees it once the collector and the cleaner ran, or free space
 * on the file system).
 */
public final class StoreFullException extends StoreException {
    public StoreFullException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }

    /**
     * The store's failure for an I/O or RocksDB error: this exception when it means the file
     * system is out of space (ENOSPC, EDQUOT), a plain {@link StoreException} otherwise.
     */
    static StoreException failure(String message, Exception cause) {
        boolean noSpace = cause instanceof RocksDBException rocks && rocks.getStatus() != null
                && rocks.getStatus().getSubCode() == Status.SubCode.NoSpace;
        String text = cause.getMessage();
        noSpace |= text != null && (text.contains("No space left on device") || text.contains("Disk quota exceeded"));
        return noSpace ? new StoreFullException(message, cause) : new StoreException(message, cause);
    }
}

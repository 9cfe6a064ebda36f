package cgw.store;

import org.jspecify.annotations.Nullable;

/**
 * Base of the store's failures. Subclasses name what the caller got wrong; a bare
 * {@code StoreException} means the store itself failed (RocksDB I/O, a full disk) and carries the
 * cause.
 */
public class StoreException extends RuntimeException {
    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}

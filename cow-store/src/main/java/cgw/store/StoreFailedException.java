package cgw.store;

import org.jspecify.annotations.Nullable;

/**
 * A sync of the store's files failed, now or earlier: what was written since the last successful
 * flush may not be on the disk, and no later sync can tell. The store serves reads and refuses
 * every write, flush, catalog change and relocation until the gateway is restarted.
 */
public final class StoreFailedException extends StoreException {
    public StoreFailedException(String message, @Nullable Throwable cause) {
        super(message, cause);
    }
}

package cgw.store;

import cgw.store.key.CatalogKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Records of a layer above the store (the snapshot catalog, groups) to put or delete in the same
 * atomic catalog write as a store change ({@link BlockStore#cut(List, java.util.function.Function)},
 * {@link BlockStore#release(List, CatalogChanges)}) or on their own
 * ({@link BlockStore#updateCatalog}). Keys are ASCII strings in a namespace of their own; values
 * are opaque bytes. Not thread-safe: build one, hand it over.
 */
public final class CatalogChanges {
    /** One change; a null value deletes the key. */
    record Change(byte[] key, byte @Nullable [] value) {
    }

    private final List<Change> changes = new ArrayList<>();

    public CatalogChanges put(String key, byte[] value) {
        changes.add(new Change(CatalogKey.app(key), Arrays.copyOf(value, value.length)));
        return this;
    }

    public CatalogChanges delete(String key) {
        changes.add(new Change(CatalogKey.app(key), null));
        return this;
    }

    public boolean isEmpty() {
        return changes.isEmpty();
    }

    List<Change> changes() {
        return changes;
    }
}

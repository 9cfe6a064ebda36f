package cgw.store;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import org.jspecify.annotations.Nullable;

/**
 * Region records as RocksDB holds them, by volume, region and epoch, so that a write into part of
 * a region ({@link RegionBatch}) merges into its record without reading it back. A write puts
 * the record it committed; every other writer of records (the collector, relocation) forgets
 * the ones it changed. Both under the region's stripe lock, which every writer of a record holds,
 * so an entry is never older than the record in RocksDB. Volume ids are not reused while the
 * store is open and the cache starts empty at each open, so a deleted volume's entries are never
 * found, only evicted.
 *
 * <p>Bounded by the bytes of the records it holds (plus a fixed estimate per entry); the least
 * useful entries go first (Caffeine's policy).
 */
final class RecordCache {
    /** What an entry costs beside its record: key object, node, array header (an estimate). */
    private static final int ENTRY_OVERHEAD_BYTES = 96;

    private record Key(long volumeId, long region, long epoch) {
    }

    private final Cache<Key, byte[]> cache;

    /** A cache of at most {@code maxBytes}. */
    RecordCache(long maxBytes) {
        cache = Caffeine.newBuilder()
                .maximumWeight(maxBytes)
                .weigher((Key key, byte[] record) -> record.length + ENTRY_OVERHEAD_BYTES)
                .executor(Runnable::run) // evictions on the caller's thread, no pool of their own
                .build();
    }

    /** The record of {@code region} at {@code epoch} as committed, or null when the cache does not know it. */
    byte @Nullable [] get(long volumeId, long region, long epoch) {
        return cache.getIfPresent(new Key(volumeId, region, epoch));
    }

    /** Remembers the committed record {@code encoded}; the cache owns the array from now on. */
    void put(long volumeId, long region, long epoch, byte[] encoded) {
        cache.put(new Key(volumeId, region, epoch), encoded);
    }

    /** Forgets the record of {@code region} at {@code epoch}: it changed, or may have. */
    void forget(long volumeId, long region, long epoch) {
        cache.invalidate(new Key(volumeId, region, epoch));
    }
}

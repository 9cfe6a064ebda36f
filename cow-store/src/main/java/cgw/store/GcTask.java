package cgw.store;

import cgw.store.key.CatalogKey;

/**
 * Work for the collector: examine the blocks of a volume written in epochs
 * {@code [fromEpoch, toEpoch]} ({@code Long.MAX_VALUE}: through the head). Mirrored by a
 * {@link CatalogKey#PENDING_GC} key, so a restart resumes it.
 */
record GcTask(long volumeId, long fromEpoch, long toEpoch) {
    byte[] key() {
        return CatalogKey.gcTask(volumeId, fromEpoch, toEpoch);
    }

    static GcTask ofKey(byte[] key) {
        return new GcTask(CatalogKey.volumeId(key), CatalogKey.fromEpochOf(key), CatalogKey.toEpochOf(key));
    }
}

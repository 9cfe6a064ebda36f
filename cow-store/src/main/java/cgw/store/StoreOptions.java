package cgw.store;

/**
 * Tunables of a {@link BlockStore}. The defaults come from the benchmarks in {@code bench/} and
 * keep a gateway with 100 volumes under 1 GiB RSS: RocksDB's block cache and memtables share one
 * budget of {@code cacheBytes}.
 *
 * @param blockSizeBytes       size of a stored block; fixed when the store is created
 * @param cacheBytes           block cache, which memtables are charged to as well, and the heap's
 *                             pointer cache of single-block reads, which gets half of what
 *                             memtables leave (64 MiB of the default 256 MiB)
 * @param memtableBytes        memtable budget inside the cache (write buffer manager)
 * @param gcBlocksPerSecond    rate limit of the background collector (block versions examined)
 * @param backgroundGc         run the collector on its own thread; tests drive it by hand
 * @param valueLogSegmentBytes size of the value log's segments ({@code STORE/values/}), which hold
 *                             every block's data, RocksDB the block map
 * @param overwriteInPlace     a write to a block whose version is already in
 *                             the head epoch overwrites its bytes in the log instead of appending
 *                             a copy (blocks of at most 4 KiB; see docs/store.md)
 */
public record StoreOptions(
        int blockSizeBytes,
        long cacheBytes,
        long memtableBytes,
        long gcBlocksPerSecond,
        boolean backgroundGc,
        long valueLogSegmentBytes,
        boolean overwriteInPlace) {

    public static final int MIN_BLOCK_SIZE_BYTES = 512;
    public static final int MAX_BLOCK_SIZE_BYTES = 1 << 20;

    public StoreOptions {
        if (blockSizeBytes < MIN_BLOCK_SIZE_BYTES || blockSizeBytes > MAX_BLOCK_SIZE_BYTES
                || Integer.bitCount(blockSizeBytes) != 1) {
            throw new IllegalArgumentException("blockSizeBytes must be a power of two in ["
                    + MIN_BLOCK_SIZE_BYTES + ", " + MAX_BLOCK_SIZE_BYTES + "], got " + blockSizeBytes);
        }
        if (memtableBytes < (4 << 20) || cacheBytes < memtableBytes + (8 << 20)) {
            throw new IllegalArgumentException(
                    "need memtableBytes >= 4 MiB and cacheBytes >= memtableBytes + 8 MiB, got "
                            + "memtableBytes=" + memtableBytes + " cacheBytes=" + cacheBytes);
        }
        if (valueLogSegmentBytes < blockSizeBytes || valueLogSegmentBytes > (1L << 40)) {
            throw new IllegalArgumentException("valueLogSegmentBytes must be in [blockSizeBytes, 1 TiB], got "
                    + valueLogSegmentBytes);
        }
        if (gcBlocksPerSecond <= 0) {
            throw new IllegalArgumentException("gcBlocksPerSecond must be positive, got " + gcBlocksPerSecond);
        }
    }

    public static StoreOptions defaults() {
        return new StoreOptions(4096, 256L << 20, 96L << 20, 200_000, true, 64L << 20, true);
    }

    public StoreOptions withBlockSizeBytes(int value) {
        return new StoreOptions(value, cacheBytes, memtableBytes, gcBlocksPerSecond, backgroundGc,
                valueLogSegmentBytes, overwriteInPlace);
    }

    public StoreOptions withCacheBytes(long cache, long memtable) {
        return new StoreOptions(blockSizeBytes, cache, memtable, gcBlocksPerSecond, backgroundGc,
                valueLogSegmentBytes, overwriteInPlace);
    }

    public StoreOptions withGcBlocksPerSecond(long value) {
        return new StoreOptions(blockSizeBytes, cacheBytes, memtableBytes, value, backgroundGc,
                valueLogSegmentBytes, overwriteInPlace);
    }

    public StoreOptions withBackgroundGc(boolean value) {
        return new StoreOptions(blockSizeBytes, cacheBytes, memtableBytes, gcBlocksPerSecond, value,
                valueLogSegmentBytes, overwriteInPlace);
    }

    public StoreOptions withValueLogSegmentBytes(long value) {
        return new StoreOptions(blockSizeBytes, cacheBytes, memtableBytes, gcBlocksPerSecond, backgroundGc,
                value, overwriteInPlace);
    }

    public StoreOptions withOverwriteInPlace(boolean value) {
        return new StoreOptions(blockSizeBytes, cacheBytes, memtableBytes, gcBlocksPerSecond, backgroundGc,
                valueLogSegmentBytes, value);
    }
}

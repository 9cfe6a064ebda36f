package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pointer cache on its own, and single-block reads of a store through it after every kind of change. */
class PointerCacheTest {
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    @Test
    void aPutPointerIsFoundAtItsEpochOnlyUntilCleared() {
        PointerCache cache = new PointerCache(1 << 10);
        PointerCache.Hit hit = new PointerCache.Hit();
        assertThat(cache.get(3, 77, 5, hit)).isFalse();

        cache.put(3, 77, 5, 12, 0xFFFF_F000L, 0xCAFEBABE, 0x12345678);
        assertThat(cache.get(3, 77, 5, hit)).isTrue();
        assertThat(hit.segment).isEqualTo(12);
        assertThat(hit.position).isEqualTo(0xFFFF_F000L);
        assertThat(hit.crc).isEqualTo(0xCAFEBABE);
        assertThat(hit.previousCrc).isEqualTo(0x12345678);
        assertThat(cache.get(3, 77, 6, hit)).as("another epoch").isFalse();
        assertThat(cache.get(4, 77, 5, hit)).as("another volume").isFalse();
        assertThat(cache.get(3, 78, 5, hit)).as("another block").isFalse();

        cache.clear(3, 70, 80);
        assertThat(cache.get(3, 77, 5, hit)).isFalse();
    }

    @Test
    void aFullBucketEvictsOneBlockAndKeepsTheOthers() {
        PointerCache cache = new PointerCache(4); // one bucket: every block shares it
        PointerCache.Hit hit = new PointerCache.Hit();
        for (int block = 0; block < 4; block++) {
            cache.put(1, block, 1, 0, block * BLOCK, block, block);
        }
        for (int block = 0; block < 4; block++) {
            assertThat(cache.get(1, block, 1, hit)).as("block %d", block).isTrue();
            assertThat(hit.position).isEqualTo(block * BLOCK);
        }
        cache.put(1, 4, 1, 0, 4 * BLOCK, 4, 4);
        int found = 0;
        for (int block = 0; block < 5; block++) {
            found += cache.get(1, block, 1, hit) ? 1 : 0;
        }
        assertThat(found).isEqualTo(4);
        assertThat(cache.get(1, 4, 1, hit)).isTrue();

        // a newer pointer of a block replaces its own entry, not another block's
        cache.put(1, 4, 1, 7, 8 * BLOCK, 9, 9);
        assertThat(cache.get(1, 4, 1, hit)).isTrue();
        assertThat(hit.segment).isEqualTo(7);
        int stillFound = 0;
        for (int block = 0; block < 5; block++) {
            stillFound += cache.get(1, block, 1, hit) ? 1 : 0;
        }
        assertThat(stillFound).isEqualTo(4);
    }

    @Test
    void fourVolumesOfAQuarterOfTheSlotsEachAreKeptWhole() {
        PointerCache cache = new PointerCache(1 << 12);
        PointerCache.Hit hit = new PointerCache.Hit();
        int blocks = (1 << 12) / 4;
        long[] volumes = {1, 2, 3, 1000};
        for (long volume : volumes) {
            for (int block = 0; block < blocks; block++) {
                cache.put(volume, block, 1, (int) volume, (long) block * BLOCK, block, block);
            }
        }
        for (long volume : volumes) {
            int found = 0;
            for (int block = 0; block < blocks; block++) {
                found += cache.get(volume, block, 1, hit) && hit.segment == volume
                        && hit.position == (long) block * BLOCK ? 1 : 0;
            }
            assertThat(found).as("blocks of volume %d still cached", volume).isEqualTo(blocks);
        }
        // runs too: a group per entry for a volume of up to 8 groups per slot
        int groups = (1 << 12) / 8;
        for (int group = 0; group < groups; group++) {
            cache.putRun(new PointerCache.Run(5, group, 1, 3, (long) group * BLOCK * PointerCache.RUN_BLOCKS));
        }
        for (int group = 0; group < groups; group++) {
            assertThat(cache.run(5, group, 1)).as("run of group %d", group).isNotNull();
        }
    }

    @Test
    void halfOfTheCacheBudgetMemtablesLeaveSizesIt() {
        StoreOptions defaults = StoreOptions.defaults();
        assertThat(PointerCache.slotsFor(defaults)).isEqualTo(1 << 21); // 80 MiB pays for 2.5 Mi slots
        assertThat(PointerCache.bytesOf(1 << 21)).isEqualTo(64L << 20);
        assertThat(PointerCache.slotsFor(defaults.withCacheBytes(64L << 20, 16L << 20))).isEqualTo(1 << 19);
        assertThat(PointerCache.slotsFor(defaults.withCacheBytes(100L << 20, 16L << 20))).isEqualTo(1 << 20);
        assertThat(PointerCache.slotsFor(defaults.withCacheBytes(12L << 20, 4L << 20))).isEqualTo(1 << 17);
        assertThat(PointerCache.slotsFor(defaults.withCacheBytes(1L << 40, 96L << 20))).isEqualTo(1 << 22);
    }

    @Test
    void epochsAreTellApartByTheirLowBitsAndOnesWithoutAreNotKept() {
        PointerCache cache = new PointerCache(1 << 10);
        PointerCache.Hit hit = new PointerCache.Hit();
        cache.put(1, 5, 0xFFFF_FFFFL, 2, 0, 7, 7);
        assertThat(cache.get(1, 5, 0xFFFF_FFFFL, hit)).isTrue();
        assertThat(cache.get(1, 5, 0xFFFF_FFFEL, hit)).isFalse();
        cache.put(1, 5, 1L << 32, 2, 0, 7, 7); // low bits 0: what an empty slot holds
        assertThat(cache.get(1, 5, 1L << 32, hit)).isFalse();
        assertThat(cache.get(1, 5, 0xFFFF_FFFFL, hit)).as("the earlier entry stays").isTrue();
    }

    @Test
    void pointersPastWhatASlotPacksAreNotRemembered() {
        PointerCache cache = new PointerCache(1 << 10);
        PointerCache.Hit hit = new PointerCache.Hit();
        cache.put(1L << 25, 1, 1, 0, 0, 1, 1);
        cache.put(1, 1L << 38, 1, 0, 0, 1, 1);
        cache.put(1, 2, 1, 0, 1L << 32, 1, 1);
        assertThat(cache.get(1L << 25, 1, 1, hit)).isFalse();
        assertThat(cache.get(1, 1L << 38, 1, hit)).isFalse();
        assertThat(cache.get(1, 2, 1, hit)).isFalse();
    }

    /**
     * Threads put, clear and get colliding blocks of a tiny cache at once; every pointer is a
     * function of its block and epoch, so a hit that mixes two entries (a torn slot) shows.
     */
    @Test
    void concurrentPutsAndClearsNeverYieldAMixedEntry() throws Exception {
        PointerCache cache = new PointerCache(16);
        AtomicBoolean stop = new AtomicBoolean();
        int threads = 4;
        long operationsEach = 5_000_000;
        // each worker's count of operations, published every 4096 so that counting adds no fence per operation
        AtomicLongArray operations = new AtomicLongArray(threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<Long>> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int worker = t;
            workers.add(pool.submit(() -> {
                SplittableRandom random = new SplittableRandom(worker);
                PointerCache.Hit hit = new PointerCache.Hit();
                long hits = 0;
                for (long done = 1; !stop.get(); done++) {
                    if ((done & 4095) == 0) {
                        operations.lazySet(worker, done);
                    }
                    long block = random.nextInt(64);
                    long epoch = 1 + random.nextInt(3);
                    switch (random.nextInt(3)) {
                        case 0 -> cache.put(1, block, epoch, (int) (block * 3 + epoch), block * BLOCK + epoch,
                                (int) (block ^ epoch), (int) (block + epoch));
                        case 1 -> cache.clear(1, block);
                        default -> {
                            if (cache.get(1, block, epoch, hit)) {
                                hits++;
                                assertThat(hit.segment).isEqualTo((int) (block * 3 + epoch));
                                assertThat(hit.position).isEqualTo(block * BLOCK + epoch);
                                assertThat(hit.crc).isEqualTo((int) (block ^ epoch));
                                assertThat(hit.previousCrc).isEqualTo((int) (block + epoch));
                            }
                        }
                    }
                }
                return hits;
            }));
        }
        // until every worker did its share, or one of them failed (its failure is thrown below)
        await("every worker did " + operationsEach + " operations").atMost(Duration.ofMinutes(2))
                .until(() -> IntStream.range(0, threads).allMatch(w -> operations.get(w) >= operationsEach)
                        || workers.stream().anyMatch(Future::isDone));
        stop.set(true);
        long hits = 0;
        for (Future<Long> worker : workers) {
            hits += worker.get(30, TimeUnit.SECONDS);
        }
        pool.shutdown();
        assertThat(hits).isPositive();
    }

    /**
     * Random writes (single blocks, runs overwritten in place, whole groups of known runs,
     * partial blocks), zeroes, trims,
     * cuts, releases and forced cleaner rounds, each followed by single-block reads into direct
     * buffers (the reads the cache serves, read twice so the second hits, then a third time by
     * readNoWait) and a 16-block read (by read, then by readNoWait when it serves it): every read
     * matches a plain model of the volume.
     */
    @Test
    void singleBlockReadsSeeEveryChangeOfTheHead() {
        int blocks = 128;
        StoreOptions options = StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false)
                .withValueLogSegmentBytes(64 << 10);
        SplittableRandom random = new SplittableRandom(42);
        byte[] model = new byte[blocks * BLOCK];
        try (BlockStore store = BlockStore.open(dir, options)) {
            Volume volume = store.createVolume("vm", (long) blocks * BLOCK);
            List<Long> retained = new ArrayList<>();
            int noWaitReads = 0;
            int rangeReads = 0;
            int rangeNoWaitReads = 0;
            for (int step = 0; step < 600; step++) {
                int b = random.nextInt(blocks);
                int op = random.nextInt(10);
                if (op < 3) {
                    writeRandom(store, volume, model, random, (long) b * BLOCK, BLOCK);
                } else if (op == 3) {
                    int run = InPlaceOverwrites.MIN_RUN_BYTES / BLOCK;
                    int first = Math.min(b, blocks - run);
                    writeRandom(store, volume, model, random, (long) first * BLOCK, run * BLOCK);
                } else if (op == 4) {
                    // a whole group: rewritten in place from the run the last such write left
                    int first = b / PointerCache.RUN_BLOCKS * PointerCache.RUN_BLOCKS;
                    writeRandom(store, volume, model, random, (long) first * BLOCK, PointerCache.RUN_BLOCKS * BLOCK);
                } else if (op == 5) {
                    writeRandom(store, volume, model, random, (long) b * BLOCK + 100, 1000);
                } else if (op == 6) {
                    store.writeZeroes(volume, (long) b * BLOCK, BLOCK);
                    java.util.Arrays.fill(model, b * BLOCK, (b + 1) * BLOCK, (byte) 0);
                } else if (op == 7) {
                    store.trim(volume, (long) b * BLOCK, BLOCK);
                    java.util.Arrays.fill(model, b * BLOCK, (b + 1) * BLOCK, (byte) 0);
                } else if (op == 8) {
                    retained.add(store.cut(volume));
                    if (retained.size() > 2) {
                        store.release(volume, retained.remove(0));
                    }
                } else {
                    store.collectGarbage();
                }
                // a long read: its pointers from the cache, the few it misses (zeroes, trims) looked up
                int from = b / 16 * 16;
                ByteBuffer range = random.nextBoolean()
                        ? ByteBuffer.allocateDirect(16 * BLOCK)
                        : ByteBuffer.allocate(16 * BLOCK);
                while (range.hasRemaining()) {
                    range.put((byte) 0x5A); // as a reused buffer holds old bytes
                }
                range.clear();
                store.read(volume, (long) from * BLOCK, range);
                byte[] got16 = new byte[16 * BLOCK];
                range.get(0, got16);
                assertThat(got16).as("blocks %d-%d after step %d (op %d)", from, from + 15, step, op)
                        .isEqualTo(java.util.Arrays.copyOfRange(model, from * BLOCK, (from + 16) * BLOCK));
                rangeReads++;
                ByteBuffer noWait = ByteBuffer.allocateDirect(16 * BLOCK);
                while (noWait.hasRemaining()) {
                    noWait.put((byte) 0x5A);
                }
                if (store.readNoWait(volume, (long) from * BLOCK, noWait.clear())) {
                    noWait.get(0, got16);
                    assertThat(got16).as("blocks %d-%d by readNoWait after step %d (op %d)", from, from + 15, step, op)
                            .isEqualTo(java.util.Arrays.copyOfRange(model, from * BLOCK, (from + 16) * BLOCK));
                    rangeNoWaitReads++;
                }
                for (int i = 0; i < 8; i++) {
                    int read = i < 2 ? b : random.nextInt(blocks);
                    for (int twice = 0; twice < 3; twice++) {
                        ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
                        if (twice < 2 || !store.readNoWait(volume, (long) read * BLOCK, dst)) {
                            store.read(volume, (long) read * BLOCK, dst);
                        } else {
                            noWaitReads++;
                        }
                        byte[] got = new byte[BLOCK];
                        dst.get(0, got);
                        assertThat(got).as("block %d after step %d (op %d)", read, step, op)
                                .isEqualTo(java.util.Arrays.copyOfRange(model, read * BLOCK, (read + 1) * BLOCK));
                    }
                }
            }
            assertThat(noWaitReads).as("reads served by readNoWait").isGreaterThan(1000);
            assertThat(rangeReads).as("long reads").isEqualTo(600);
            assertThat(rangeNoWaitReads).as("long reads served by readNoWait").isGreaterThan(50);
        }
    }

    private static void writeRandom(BlockStore store, Volume volume, byte[] model, SplittableRandom random,
            long offset, int length) {
        byte[] data = new byte[length];
        random.nextBytes(data);
        ByteBuffer src = ByteBuffer.allocateDirect(length).put(data).flip();
        store.write(volume, offset, src);
        System.arraycopy(data, 0, model, (int) offset, length);
    }
}

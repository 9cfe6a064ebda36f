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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writers, cuts, releases and the background collector at once, on real RocksDB. */
class ConcurrentStoreTest {
    private static final long SEED = Long.getLong("cgw.test.seed", System.nanoTime());

    @TempDir
    Path dir;

    /**
     * A sealed epoch never changes: what a cut returns reads the same right after the cut and
     * after every later write, cut, release and collector pass. Partial writes to disjoint bytes of
     * one block from different threads must all survive (read-modify-write under stripe locks).
     */
    @Test
    void sealedEpochsNeverChangeUnderConcurrentWrites() throws Exception {
        System.out.println("ConcurrentStoreTest seed " + SEED + " (replay with -Dcgw.test.seed=" + SEED + ")");
        StoreOptions options = StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20)
                .withGcBlocksPerSecond(1_000_000)
                .withValueLogSegmentBytes(64 << 10);
        int blockSize = options.blockSizeBytes();
        int blocks = 64;
        int writers = 4;
        try (BlockStore store = BlockStore.open(dir, options)) {
            Volume volume = store.createVolume("vm", (long) blocks * blockSize);
            AtomicBoolean stop = new AtomicBoolean();
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            List<Future<byte[][]>> futures = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int writer = w;
                futures.add(pool.submit(() -> {
                    byte[][] lastWritten = new byte[blocks][];
                    SplittableRandom random = new SplittableRandom(SEED + writer);
                    // each writer owns a quarter of every block: lanes interleave inside blocks
                    int lane = blockSize / writers;
                    while (!stop.get()) {
                        int block = random.nextInt(blocks);
                        byte[] data = new byte[lane];
                        random.nextBytes(data);
                        store.write(volume, (long) block * blockSize + (long) writer * lane, ByteBuffer.wrap(data));
                        lastWritten[block] = data;
                    }
                    return lastWritten;
                }));
            }
            List<long[]> snapshots = new ArrayList<>();
            List<byte[]> contents = new ArrayList<>();
            SplittableRandom random = new SplittableRandom(SEED);
            for (int round = 0; round < 60; round++) {
                long epoch = store.cut(volume);
                snapshots.add(new long[]{epoch});
                contents.add(readAll(store, volume, epoch, blocks * blockSize));
                if (snapshots.size() > 4 && random.nextBoolean()) {
                    int victim = random.nextInt(snapshots.size() - 1);
                    store.release(volume, snapshots.remove(victim)[0]);
                    contents.remove(victim);
                }
                for (int i = 0; i < snapshots.size(); i++) {
                    assertThat(readAll(store, volume, snapshots.get(i)[0], blocks * blockSize))
                            .as("epoch %d in round %d", snapshots.get(i)[0], round)
                            .isEqualTo(contents.get(i));
                }
            }
            stop.set(true);
            List<byte[][]> lastWritten = new ArrayList<>();
            for (Future<byte[][]> future : futures) {
                lastWritten.add(future.get(30, TimeUnit.SECONDS));
            }
            pool.shutdown();

            // the lanes of each block: each writer's last write is intact next to the others'
            long last = store.cut(volume);
            store.collectGarbage();
            byte[] head = readAll(store, volume, volume.headEpoch(), blocks * blockSize);
            int lane = blockSize / writers;
            for (int w = 0; w < writers; w++) {
                for (int block = 0; block < blocks; block++) {
                    byte[] expected = lastWritten.get(w)[block];
                    if (expected != null) {
                        int at = block * blockSize + w * lane;
                        assertThat(java.util.Arrays.copyOfRange(head, at, at + lane))
                                .as("lane %d of block %d", w, block).isEqualTo(expected);
                    }
                }
            }
            assertThat(readAll(store, volume, last, blocks * blockSize)).isEqualTo(head);
            for (int i = 0; i < snapshots.size(); i++) {
                assertThat(readAll(store, volume, snapshots.get(i)[0], blocks * blockSize)).isEqualTo(contents.get(i));
            }
        }
    }

    /** The background collector picks up a release by itself, and pending work survives a restart. */
    @Test
    void backgroundCollectorReclaimsReleasedVersions() throws Exception {
        StoreOptions options = StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false);
        long epoch;
        try (BlockStore store = BlockStore.open(dir, options)) {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, ByteBuffer.wrap(new byte[1 << 20]).put(0, (byte) 1));
            epoch = store.cut(volume);
            store.write(volume, 0, ByteBuffer.wrap(new byte[8192]).put(0, (byte) 2));
            store.release(volume, epoch);
        }
        // restart with the collector on: the release pending in the catalog gets collected
        try (BlockStore store = BlockStore.open(dir, options.withBackgroundGc(true))) {
            await("the collector empties the pending releases").atMost(Duration.ofSeconds(60))
                    .until(() -> store.pendingReleases() == 0);
            // blocks 0 and 1 were rewritten after the cut: their old versions are gone
            assertThat(store.collectorTotals().versionsDeleted()).isEqualTo(2);
            assertThat(store.collectGarbage().versionsExamined()).isZero();
            ByteBuffer first = ByteBuffer.allocate(1);
            store.read(store.volume("vm"), 0, first);
            assertThat(first.get(0)).isEqualTo((byte) 2);
        }
    }

    private static byte[] readAll(BlockStore store, Volume volume, long epoch, int length) {
        ByteBuffer dst = ByteBuffer.allocateDirect(length);
        store.read(volume, epoch, 0, dst);
        byte[] bytes = new byte[length];
        dst.get(0, bytes);
        return bytes;
    }
}

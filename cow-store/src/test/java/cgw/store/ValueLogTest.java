package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Block data in the value log: space comes back, bad bytes are named, old and new layouts mix. */
class ValueLogTest {
    private static final int BLOCK = 4096;
    private static final long SEGMENT = 256 << 10;

    @TempDir
    Path dir;

    private static StoreOptions options() {
        return StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false)
                .withValueLogSegmentBytes(SEGMENT);
    }

    private static byte[] random(SplittableRandom random, int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    private static byte[] read(BlockStore store, Volume volume, long epoch, long offset, int length) {
        ByteBuffer dst = ByteBuffer.allocate(length);
        store.read(volume, epoch, offset, dst);
        return dst.array();
    }

    private List<Path> segments() throws IOException {
        return files(".seg");
    }

    private List<Path> files(String suffix) throws IOException {
        try (Stream<Path> files = Files.list(dir.resolve(ValueLog.DIRECTORY))) {
            return files.filter(file -> file.getFileName().toString().endsWith(suffix)).sorted().toList();
        }
    }

    @Test
    void overwrittenAndReleasedDataIsReclaimedAndLiveDataSurvivesTheMove() throws IOException {
        SplittableRandom random = new SplittableRandom(1);
        int size = 4 << 20;
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", size);
            byte[] first = random(random, size);
            store.write(volume, 0, ByteBuffer.wrap(first));
            long snapshot = store.cut(volume);
            byte[] head = first.clone();
            for (int round = 0; round < 8; round++) {
                for (int i = 0; i < 200; i++) {
                    int offset = random.nextInt(size / BLOCK) * BLOCK;
                    byte[] data = random(random, BLOCK);
                    store.write(volume, offset, ByteBuffer.wrap(data));
                    System.arraycopy(data, 0, head, offset, BLOCK);
                }
            }
            long before = store.valueLogBytes();
            store.collectGarbage();
            // the snapshot and the head are live; the 8 rounds of overwrites mostly are not
            assertThat(store.valueLogBytes()).isEqualTo(store.liveValueLogBytes()).isLessThan(before);
            assertThat(read(store, volume, snapshot, 0, size)).isEqualTo(first);
            assertThat(read(store, volume, volume.headEpoch(), 0, size)).isEqualTo(head);

            store.release(volume, snapshot);
            store.collectGarbage();
            assertThat(store.valueLogBytes()).isEqualTo(store.liveValueLogBytes()).isEqualTo(size);
            assertThat(read(store, volume, volume.headEpoch(), 0, size)).isEqualTo(head);

            store.delete(volume);
            store.collectGarbage();
            assertThat(store.valueLogBytes()).isZero();
            assertThat(segments()).isEmpty();
            // a few removed segments wait to be reused, the rest are gone
            List<Path> spare = files(".free");
            assertThat(spare).hasSize(ValueLog.FREE_SEGMENTS);

            Volume again = store.createVolume("again", size);
            byte[] data = random(random, 2 * (int) SEGMENT);
            store.write(again, 0, ByteBuffer.wrap(data, 0, (int) SEGMENT));
            store.write(again, SEGMENT, ByteBuffer.wrap(data, (int) SEGMENT, (int) SEGMENT));
            assertThat(files(".free")).hasSize(ValueLog.FREE_SEGMENTS - 2);
            assertThat(segments()).hasSize(2);
            store.flush();
        }
        // the reused files' old bytes beyond what was written are never read, before or after a reopen
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume again = store.volume("again");
            assertThat(read(store, again, again.headEpoch(), 2 * SEGMENT, size - 2 * (int) SEGMENT)).containsOnly(0);
            assertThat(store.valueLogBytes()).isEqualTo(2 * SEGMENT);
        }
    }

    @Test
    void aFlippedByteInASegmentIsReportedNotReturned() throws IOException {
        byte[] data = random(new SplittableRandom(2), 64 << 10);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, ByteBuffer.wrap(data));
            store.flush();
        }
        Path segment = segments().get(0);
        try (FileChannel channel = FileChannel.open(segment, StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            ByteBuffer one = ByteBuffer.allocate(1);
            channel.read(one, 5 * BLOCK + 17);
            channel.write(ByteBuffer.wrap(new byte[] {(byte) (one.get(0) ^ 0x40)}), 5 * BLOCK + 17);
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), 0, 5 * BLOCK)).isEqualTo(java.util.Arrays.copyOf(data, 5 * BLOCK));
            assertThatThrownBy(() -> read(store, volume, volume.headEpoch(), 0, data.length))
                    .isInstanceOf(StoreException.class).hasMessageContaining("fails its checksum")
                    .hasMessageContaining("segment");
            assertThatThrownBy(() -> read(store, volume, volume.headEpoch(), 5 * BLOCK + 100, 10))
                    .isInstanceOf(StoreException.class).hasMessageContaining("fails its checksum");
            assertThat(read(store, volume, volume.headEpoch(), 6 * BLOCK, data.length - 6 * BLOCK))
                    .isEqualTo(java.util.Arrays.copyOfRange(data, 6 * BLOCK, data.length));
        }
    }

    @Test
    void dataWrittenIntoRocksDbAndIntoTheLogReadsTheSameEitherWay() {
        SplittableRandom random = new SplittableRandom(3);
        byte[] inline = random(random, 256 << 10);
        byte[] logged = random(random, 256 << 10);
        try (BlockStore store = BlockStore.open(dir, options().withValueLogSegmentBytes(0))) {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, ByteBuffer.wrap(inline));
            assertThat(store.valueLogBytes()).isZero();
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            store.write(volume, 256 << 10, ByteBuffer.wrap(logged));
            // a partial write over an inline block and a logged one
            store.write(volume, (256 << 10) - 100, ByteBuffer.wrap(new byte[200]));
            System.arraycopy(new byte[100], 0, inline, inline.length - 100, 100);
            System.arraycopy(new byte[100], 0, logged, 0, 100);
            assertThat(store.valueLogBytes()).isPositive();
        }
        try (BlockStore store = BlockStore.open(dir, options().withValueLogSegmentBytes(0))) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), 0, 256 << 10)).isEqualTo(inline);
            assertThat(read(store, volume, volume.headEpoch(), 256 << 10, 256 << 10)).isEqualTo(logged);
            store.collectGarbage();
            assertThat(read(store, volume, volume.headEpoch(), 256 << 10, 256 << 10)).isEqualTo(logged);
        }
    }

    /**
     * Readers and writers keep going while forced cleaner rounds relocate blocks and delete
     * segments under them: every read sees a value some write put there, never a deleted file,
     * and no relocation puts back an older generation over a write that replaced it meanwhile.
     */
    @Test
    void readsAndWritesRunThroughCleanerRounds() throws Exception {
        int blocks = 256;
        try (BlockStore store = BlockStore.open(dir, options().withValueLogSegmentBytes(64 << 10))) {
            Volume volume = store.createVolume("vm", (long) blocks * BLOCK);
            // every block holds its index and a generation in each 8-byte word
            for (int b = 0; b < blocks; b++) {
                store.write(volume, (long) b * BLOCK, block(b, 0));
            }
            AtomicBoolean stop = new AtomicBoolean();
            long[] lastGeneration = new long[blocks]; // written by the writer only, read after it stopped
            ExecutorService pool = Executors.newFixedThreadPool(3);
            List<Future<Long>> workers = new java.util.ArrayList<>();
            for (int w = 0; w < 3; w++) {
                boolean writer = w == 0;
                long seed = w;
                workers.add(pool.submit(() -> {
                    SplittableRandom random = new SplittableRandom(seed);
                    long operations = 0;
                    long generation = 1;
                    while (!stop.get()) {
                        int b = random.nextInt(blocks);
                        if (writer) {
                            store.write(volume, (long) b * BLOCK, block(b, generation));
                            lastGeneration[b] = generation++;
                        } else {
                            ByteBuffer dst = ByteBuffer.allocate(4 * BLOCK);
                            int first = Math.min(b, blocks - 4);
                            store.read(volume, (long) first * BLOCK, dst);
                            for (int i = 0; i < 4; i++) {
                                long word = dst.getLong(i * BLOCK);
                                assertThat(word >>> 32).as("block %d", first + i).isEqualTo(first + i);
                                assertThat(dst.getLong(i * BLOCK + BLOCK - 8)).isEqualTo(word);
                            }
                        }
                        operations++;
                    }
                    return operations;
                }));
            }
            int rounds = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (System.nanoTime() < deadline) {
                store.collectGarbage();
                rounds++;
            }
            stop.set(true);
            for (Future<Long> worker : workers) {
                assertThat(worker.get(30, TimeUnit.SECONDS)).isPositive();
            }
            pool.shutdown();
            assertThat(rounds).isGreaterThan(1);
            store.collectGarbage();
            assertThat(store.valueLogBytes()).isEqualTo(store.liveValueLogBytes()).isEqualTo((long) blocks * BLOCK);
            ByteBuffer head = ByteBuffer.allocate(blocks * BLOCK);
            store.read(volume, 0, head);
            for (int b = 0; b < blocks; b++) {
                assertThat(head.getLong(b * BLOCK) & 0xFFFFFFFFL).as("generation of block %d", b)
                        .isEqualTo(lastGeneration[b] & 0xFFFFFFFFL);
            }
        }
    }

    private static ByteBuffer block(int index, long generation) {
        ByteBuffer block = ByteBuffer.allocateDirect(BLOCK);
        long word = ((long) index << 32) | (generation & 0xFFFFFFFFL);
        while (block.hasRemaining()) {
            block.putLong(word);
        }
        return block.flip();
    }
}

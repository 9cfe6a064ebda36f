package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import cgw.host.Libc;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BlockStore#readNoWait}: the read an NBD event loop serves itself. It must return the
 * bytes {@code read} would, and decline (false) whatever would make it wait or is not its case.
 */
class NoWaitReadTest {
    private static final int BLOCK = 4096;
    private static final int POSIX_FADV_DONTNEED = 4;
    private static final int PROT_READ = 1;
    private static final int MAP_SHARED = 1;
    private static final int PAGE = 4096;
    /** Tries of {@link #dropPageCache}, 10 ms apart. */
    private static final Duration DROP_TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void aBlockWhosePointerIsCachedIsReadAndEverythingElseIsDeclined() {
        try (BlockStore store = BlockStore.open(dir, StoreOptions.defaults().withBackgroundGc(false))) {
            Volume volume = store.createVolume("vm", 64L * BLOCK);
            byte[] first = write(store, volume, 3, 1);
            ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
            assertThat(store.readNoWait(volume, 3L * BLOCK, dst)).as("a write caches the pointer it wrote").isTrue();
            assertThat(bytes(dst)).isEqualTo(first);
            assertThat(dst.position()).as("position untouched, as by read").isZero();

            assertThat(store.readNoWait(volume, 3L * BLOCK, ByteBuffer.allocate(BLOCK))).as("heap buffer").isFalse();
            assertThat(store.readNoWait(volume, 3L * BLOCK + 512, ByteBuffer.allocateDirect(BLOCK))).as("unaligned")
                    .isFalse();
            assertThat(store.readNoWait(volume, 2L * BLOCK, ByteBuffer.allocateDirect(2 * BLOCK)))
                    .as("one of two never written").isFalse();
            assertThat(store.readNoWait(volume, 3L * BLOCK, ByteBuffer.allocateDirect(512))).as("part of a block")
                    .isFalse();
            assertThat(store.readNoWait(volume, 64L * BLOCK, ByteBuffer.allocateDirect(BLOCK))).as("past the end")
                    .isFalse();
            assertThat(store.readNoWait(volume, -BLOCK, ByteBuffer.allocateDirect(BLOCK))).as("before the start")
                    .isFalse();
            assertThat(store.readNoWait(volume, 4L * BLOCK, ByteBuffer.allocateDirect(BLOCK))).as("never written")
                    .isFalse();

            byte[] second = write(store, volume, 3, 2);
            assertThat(store.readNoWait(volume, 3L * BLOCK, dst)).as("the next write's pointer replaces it").isTrue();
            assertThat(bytes(dst)).isEqualTo(second);

            store.cut(volume);
            assertThat(store.readNoWait(volume, 3L * BLOCK, dst)).as("a cut moves the head to a new epoch").isFalse();
            assertThat(read(store, volume, 3)).isEqualTo(second);
            assertThat(store.readNoWait(volume, 3L * BLOCK, dst))
                    .as("a block not written since the cut is cached under the new head epoch").isTrue();
            assertThat(bytes(dst)).isEqualTo(second);
            byte[] third = write(store, volume, 3, 3);
            assertThat(store.readNoWait(volume, 3L * BLOCK, dst)).as("the first write after the cut caches its copy")
                    .isTrue();
            assertThat(bytes(dst)).isEqualTo(third);
            assertThat(read(store, volume, 3)).isEqualTo(third);

            store.writeZeroes(volume, 3L * BLOCK, BLOCK);
            assertThat(store.readNoWait(volume, 3L * BLOCK, dst)).as("zeroes forget it").isFalse();
            assertThat(read(store, volume, 3)).isEqualTo(new byte[BLOCK]);
            assertThat(store.readNoWait(volume, 3L * BLOCK, dst)).as("markers are not cached").isFalse();

            write(store, volume, 5, 5);
            assertThat(store.readNoWait(volume, 5L * BLOCK, dst)).isTrue();
            store.delete(volume);
            assertThat(store.readNoWait(volume, 5L * BLOCK, dst)).as("deleted volume").isFalse();
        }
    }

    /**
     * A read of many blocks is served when every pointer is cached and the blocks lie in at most
     * one run per 16 blocks in the log (as a volume written sequentially does), up to 1 MiB; a
     * scattered range, a missing pointer, a damaged block and anything longer are declined.
     */
    @Test
    void manyBlocksInFewRunsAreReadAndScatteredOrDamagedOnesAreDeclined() throws IOException {
        try (BlockStore store = BlockStore.open(dir, StoreOptions.defaults().withBackgroundGc(false))) {
            Volume volume = store.createVolume("vm", 1024L * BLOCK);
            byte[] run = random(300 * BLOCK, 1);
            store.write(volume, 0, ByteBuffer.allocateDirect(run.length).put(run).flip());
            ByteBuffer dst = ByteBuffer.allocateDirect(256 * BLOCK);
            assertThat(store.readNoWait(volume, 0, dst)).as("1 MiB in one run").isTrue();
            assertThat(bytes(dst)).isEqualTo(java.util.Arrays.copyOf(run, 256 * BLOCK));
            assertThat(dst.position()).isZero();
            ByteBuffer part = ByteBuffer.allocateDirect(40 * BLOCK);
            assertThat(store.readNoWait(volume, 7L * BLOCK, part)).as("a part of it").isTrue();
            assertThat(bytes(part)).isEqualTo(java.util.Arrays.copyOfRange(run, 7 * BLOCK, 47 * BLOCK));
            assertThat(store.readNoWait(volume, 0, ByteBuffer.allocateDirect(257 * BLOCK))).as("longer than 1 MiB")
                    .isFalse();
            assertThat(store.readNoWait(volume, 0, ByteBuffer.allocateDirect(40 * BLOCK + 512))).as("not whole blocks")
                    .isFalse();
            assertThat(store.readNoWait(volume, 280L * BLOCK, ByteBuffer.allocateDirect(40 * BLOCK)))
                    .as("partly never written").isFalse();

            // blocks 400-431 in two runs (another write between them): served; written one by one backwards: declined
            byte[] two = random(32 * BLOCK, 2);
            store.write(volume, 400L * BLOCK, ByteBuffer.allocateDirect(16 * BLOCK).put(two, 0, 16 * BLOCK).flip());
            write(store, volume, 900, 9);
            store.write(volume, 416L * BLOCK,
                    ByteBuffer.allocateDirect(16 * BLOCK).put(two, 16 * BLOCK, 16 * BLOCK).flip());
            ByteBuffer range = ByteBuffer.allocateDirect(32 * BLOCK);
            assertThat(store.readNoWait(volume, 400L * BLOCK, range)).as("two runs in 32 blocks").isTrue();
            assertThat(bytes(range)).isEqualTo(two);
            byte[] scattered = new byte[32 * BLOCK];
            for (int block = 31; block >= 0; block--) {
                System.arraycopy(write(store, volume, 500 + block, 100 + block), 0, scattered, block * BLOCK, BLOCK);
            }
            assertThat(store.readNoWait(volume, 500L * BLOCK, range.clear())).as("32 blocks in 32 runs").isFalse();
            assertThat(read(store, volume, 500, 32)).isEqualTo(scattered);

            store.writeZeroes(volume, 100L * BLOCK, BLOCK);
            assertThat(store.readNoWait(volume, 90L * BLOCK, range.clear())).as("a marker in the range").isFalse();
            ByteBuffer before = ByteBuffer.allocateDirect(64 * BLOCK);
            assertThat(store.readNoWait(volume, 0, before)).as("the range damaged below, before").isTrue();

            // damage in block 10 of the first run: declined, and the waiting read reports it
            Path segment;
            try (Stream<Path> list = Files.list(dir.resolve(ValueLog.DIRECTORY))) {
                segment = list.filter(f -> f.toString().endsWith(".seg")).sorted().findFirst().orElseThrow();
            }
            try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(segment,
                    java.nio.file.StandardOpenOption.WRITE)) {
                channel.write(ByteBuffer.wrap(new byte[]{(byte) ~run[10 * BLOCK + 5]}), 10L * BLOCK + 5);
            }
            ByteBuffer damaged = ByteBuffer.allocateDirect(64 * BLOCK);
            assertThat(store.readNoWait(volume, 0, damaged)).as("a damaged block").isFalse();
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> read(store, volume, 0, 64))
                    .isInstanceOf(StoreException.class).hasMessageContaining("fails its checksum");
            assertThat(read(store, volume, 11, 40)).as("the blocks after it")
                    .isEqualTo(java.util.Arrays.copyOfRange(run, 11 * BLOCK, 51 * BLOCK));
        }
    }

    @Test
    void aBlockThePageCacheDoesNotHoldIsLeftToTheWaitingRead() throws IOException {
        try (BlockStore store = BlockStore.open(dir, StoreOptions.defaults().withBackgroundGc(false))) {
            Volume volume = store.createVolume("vm", 64L * BLOCK);
            byte[] data = write(store, volume, 7, 7);
            read(store, volume, 7);
            ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
            assertThat(store.readNoWait(volume, 7L * BLOCK, dst)).isTrue();
            byte[] run = random(32 * BLOCK, 8);
            store.write(volume, 32L * BLOCK, ByteBuffer.allocateDirect(run.length).put(run).flip());
            ByteBuffer range = ByteBuffer.allocateDirect(run.length);
            assertThat(store.readNoWait(volume, 32L * BLOCK, range)).isTrue();

            store.flush(); // clean pages can be dropped
            dropPageCache(dir.resolve(ValueLog.DIRECTORY));
            assertThat(store.readNoWait(volume, 7L * BLOCK, dst)).as("bytes on disk only").isFalse();
            assertThat(store.readNoWait(volume, 32L * BLOCK, range)).as("many blocks on disk only").isFalse();
            assertThat(read(store, volume, 32, 32)).isEqualTo(run);
            assertThat(store.readNoWait(volume, 32L * BLOCK, range)).isTrue();
            assertThat(bytes(range)).isEqualTo(run);

            assertThat(read(store, volume, 7)).isEqualTo(data);
            assertThat(store.readNoWait(volume, 7L * BLOCK, dst)).as("read back into the page cache").isTrue();
            assertThat(bytes(dst)).isEqualTo(data);
        }
    }

    private static byte[] random(int length, long seed) {
        byte[] data = new byte[length];
        new SplittableRandom(seed).nextBytes(data);
        return data;
    }

    private static byte[] write(BlockStore store, Volume volume, long block, long seed) {
        byte[] data = random(BLOCK, seed);
        store.write(volume, block * BLOCK, ByteBuffer.allocateDirect(BLOCK).put(data).flip());
        return data;
    }

    private static byte[] read(BlockStore store, Volume volume, long block) {
        return read(store, volume, block, 1);
    }

    private static byte[] read(BlockStore store, Volume volume, long block, int blocks) {
        ByteBuffer dst = ByteBuffer.allocateDirect(blocks * BLOCK);
        store.read(volume, block * BLOCK, dst);
        return bytes(dst);
    }

    private static byte[] bytes(ByteBuffer dst) {
        byte[] out = new byte[dst.remaining()];
        dst.get(dst.position(), out);
        return out;
    }

    /**
     * Drops every file of {@code dir} from the page cache: fdatasync and posix_fadvise(DONTNEED)
     * until mincore shows none of its pages (the kernel may keep a page it is still releasing, a
     * just-written page of ext4 for a moment after the sync). Fails when the file system keeps
     * them (tmpfs).
     */
    private static void dropPageCache(Path dir) throws IOException {
        Libc libc = Libc.load();
        List<Path> files;
        try (Stream<Path> list = Files.list(dir)) {
            files = list.toList();
        }
        for (Path file : files) {
            int fd = libc.open(file.toString(), 0);
            assertThat(fd).as("open %s", file).isNotNegative();
            try {
                await("%s dropped from the page cache".formatted(file)).atMost(DROP_TIMEOUT)
                        .pollInterval(Duration.ofMillis(10)).until(() -> {
                            assertThat(libc.fdatasync(fd)).as("fdatasync %s", file).isZero();
                            assertThat(libc.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)).as("fadvise %s", file)
                                    .isZero();
                            return residentPages(libc, fd, Files.size(file)) == 0;
                        });
            } finally {
                libc.close(fd);
            }
        }
    }

    /** How many of the first {@code length} bytes' pages of {@code fd} the page cache holds. */
    private static int residentPages(Libc libc, int fd, long length) {
        if (length == 0) {
            return 0;
        }
        jnr.ffi.Pointer map = libc.mmap(null, length, PROT_READ, MAP_SHARED, fd, 0);
        assertThat(map.address()).as("mmap").isNotEqualTo(-1L);
        try {
            byte[] resident = new byte[(int) ((length + PAGE - 1) / PAGE)];
            assertThat(libc.mincore(map, length, resident)).as("mincore").isZero();
            int count = 0;
            for (byte page : resident) {
                count += page & 1;
            }
            return count;
        } finally {
            libc.munmap(map, length);
        }
    }
}

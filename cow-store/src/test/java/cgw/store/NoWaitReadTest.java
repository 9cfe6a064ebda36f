package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import jnr.ffi.LibraryLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BlockStore#readNoWait}: the read an NBD event loop serves itself. It must return the
 * bytes {@code read} would, and decline (false) whatever would make it wait or is not its case.
 */
class NoWaitReadTest {
    private static final int BLOCK = 4096;
    private static final int POSIX_FADV_DONTNEED = 4;

    /** For dropping a file's pages from the page cache. */
    public interface LibC {
        int open(String path, int flags);

        int posix_fadvise(int fd, long offset, long length, int advice);

        int close(int fd);
    }

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
            assertThat(store.readNoWait(volume, 3L * BLOCK + 512, ByteBuffer.allocateDirect(BLOCK))).as("unaligned").isFalse();
            assertThat(store.readNoWait(volume, 2L * BLOCK, ByteBuffer.allocateDirect(2 * BLOCK))).as("two blocks").isFalse();
            assertThat(store.readNoWait(volume, 3L * BLOCK, ByteBuffer.allocateDirect(512))).as("part of a block").isFalse();
            assertThat(store.readNoWait(volume, 64L * BLOCK, ByteBuffer.allocateDirect(BLOCK))).as("past the end").isFalse();
            assertThat(store.readNoWait(volume, -BLOCK, ByteBuffer.allocateDirect(BLOCK))).as("before the start").isFalse();
            assertThat(store.readNoWait(volume, 4L * BLOCK, ByteBuffer.allocateDirect(BLOCK))).as("never written").isFalse();

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
            assertThat(store.readNoWait(volume, 3L * BLOCK, dst)).as("the first write after the cut caches its copy").isTrue();
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

    @Test
    void aBlockThePageCacheDoesNotHoldIsLeftToTheWaitingRead() throws IOException {
        try (BlockStore store = BlockStore.open(dir, StoreOptions.defaults().withBackgroundGc(false))) {
            Volume volume = store.createVolume("vm", 64L * BLOCK);
            byte[] data = write(store, volume, 7, 7);
            read(store, volume, 7);
            ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
            assertThat(store.readNoWait(volume, 7L * BLOCK, dst)).isTrue();

            store.flush(); // clean pages can be dropped
            dropPageCache(dir.resolve(ValueLog.DIRECTORY));
            assertThat(store.readNoWait(volume, 7L * BLOCK, dst)).as("bytes on disk only").isFalse();

            assertThat(read(store, volume, 7)).isEqualTo(data);
            assertThat(store.readNoWait(volume, 7L * BLOCK, dst)).as("read back into the page cache").isTrue();
            assertThat(bytes(dst)).isEqualTo(data);
        }
    }

    private static byte[] write(BlockStore store, Volume volume, long block, long seed) {
        byte[] data = new byte[BLOCK];
        new SplittableRandom(seed).nextBytes(data);
        store.write(volume, block * BLOCK, ByteBuffer.allocateDirect(BLOCK).put(data).flip());
        return data;
    }

    private static byte[] read(BlockStore store, Volume volume, long block) {
        ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
        store.read(volume, block * BLOCK, dst);
        return bytes(dst);
    }

    private static byte[] bytes(ByteBuffer dst) {
        byte[] out = new byte[dst.remaining()];
        dst.get(dst.position(), out);
        return out;
    }

    /** posix_fadvise(DONTNEED) on every file of {@code dir}; fails when the file system keeps them (tmpfs). */
    private static void dropPageCache(Path dir) throws IOException {
        LibC libc = LibraryLoader.create(LibC.class).load("c");
        List<Path> files;
        try (Stream<Path> list = Files.list(dir)) {
            files = list.toList();
        }
        for (Path file : files) {
            int fd = libc.open(file.toString(), 0);
            assertThat(fd).as("open %s", file).isNotNegative();
            try {
                assertThat(libc.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)).as("fadvise %s", file).isZero();
            } finally {
                libc.close(fd);
            }
        }
    }
}

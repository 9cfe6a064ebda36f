package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full file system under the store: writes fail with
 * {@link StoreFullException}, acknowledged data survives, and writes work again once space is
 * freed. The store lives on a small tmpfs (mounting one needs root, as the test machines have).
 */
class DiskFullStoreTest {
    private static final int MiB = 1 << 20;

    @TempDir
    Path dir;
    private Path mount;

    @BeforeEach
    void mountSmallDisk() throws Exception {
        mount = Files.createDirectories(dir.resolve("small"));
        run("mount", "-t", "tmpfs", "-o", "size=192m", "tmpfs", mount.toString());
    }

    @AfterEach
    void unmount() throws Exception {
        run("umount", mount.toString());
    }

    private static void run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as("%s: %s", String.join(" ", command), output).isZero();
    }

    @Test
    void writesFailWhileTheDiskIsFullAndWorkAgainOnceSpaceIsFreed() throws IOException {
        StoreOptions options = StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false);
        SplittableRandom random = new SplittableRandom(7);
        byte[] data = new byte[256 * MiB];
        random.nextBytes(data);
        try (BlockStore store = BlockStore.open(mount.resolve("store"), options)) {
            Volume volume = store.createVolume("vm", data.length);
            store.write(volume, 0, ByteBuffer.wrap(data, 0, 2 * MiB));
            store.flush();
            Path ballast = mount.resolve("ballast");
            // the store keeps 2 x 16 MiB memtables + 64 MiB to itself
            fill(ballast, mount.toFile().getUsableSpace() - 96 * MiB - 12 * MiB);

            int written = 2;
            int limit = data.length / MiB;
            StoreFullException full = null;
            for (; written < limit; written++) {
                try {
                    store.write(volume, (long) written * MiB, ByteBuffer.wrap(data, written * MiB, MiB));
                } catch (StoreFullException e) {
                    full = e;
                    break;
                }
            }
            assertThat(full).as("the disk never filled").isNotNull();
            assertThat(full).hasMessageContaining("MiB free").hasMessageContaining("delete volumes or snapshots");
            // refused with its reserve still free, not at ENOSPC, and not before writing into the
            // ~12 MiB left above it. How many MiB exactly varies: one clean-clone CI run took 29
            // where runs here take 15-18, with 82-95 MiB free at refusal; the cause is not known,
            // probably space RocksDB had preallocated for a log and released after the ballast
            // was sized.
            assertThat(mount.toFile().getUsableSpace()).as("bytes free when the store refused")
                    .isGreaterThan(48L * MiB);
            assertThat(written).as("MiB written before the store refused").isGreaterThanOrEqualTo(2 + 4);
            int acknowledged = written;
            ByteBuffer back = ByteBuffer.allocate(acknowledged * MiB);
            store.read(volume, 0, back);
            assertThat(back.array()).isEqualTo(java.util.Arrays.copyOf(data, acknowledged * MiB));
            assertThatThrownBy(() -> {
                for (int i = 0; i < 64; i++) {
                    store.write(volume, (long) acknowledged * MiB, ByteBuffer.wrap(data, acknowledged * MiB, MiB));
                }
            }).isInstanceOf(StoreFullException.class);

            // deleting needs no headroom: a volume can be deleted to free space
            store.delete(store.createVolume("scratch", MiB));
            Files.delete(ballast);
            store.write(volume, (long) acknowledged * MiB, ByteBuffer.wrap(data, acknowledged * MiB, 8 * MiB));
            store.flush();
            back = ByteBuffer.allocate((acknowledged + 8) * MiB);
            store.read(volume, 0, back);
            assertThat(back.array()).isEqualTo(java.util.Arrays.copyOf(data, (acknowledged + 8) * MiB));
        }
        try (BlockStore store = BlockStore.open(mount.resolve("store"), options)) {
            ByteBuffer back = ByteBuffer.allocate(2 * MiB);
            store.read(store.volume("vm"), 0, back);
            assertThat(back.array()).isEqualTo(java.util.Arrays.copyOf(data, 2 * MiB));
        }
    }

    /** Should the disk fill anyway (another program): the value log reports it as a full store. */
    @Test
    void aValueLogWriteThatMeetsAFullDiskIsAStoreFullFailure() throws IOException {
        try (ValueLog log = ValueLog.open(mount.resolve("store"), 64 << 20, new Durability(mount.resolve("store")))) {
            fill(mount.resolve("ballast"), mount.toFile().getUsableSpace() - MiB);
            ValueLog.Reservation reservation = log.reserve(4 * MiB);
            try {
                assertThatThrownBy(() -> reservation.write(0, ByteBuffer.allocate(4 * MiB)))
                        .isInstanceOf(StoreFullException.class).hasMessageContaining("No space left on device");
            } finally {
                reservation.finish();
            }
        }
    }

    private static void fill(Path file, long bytes) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocate(MiB);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long done = 0; done < bytes; done += MiB) {
                chunk.clear().limit((int) Math.min(MiB, bytes - done));
                while (chunk.hasRemaining()) {
                    channel.write(chunk);
                }
            }
        }
    }
}

package cgw.tests.faults;

import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * faultfs through a real mount, with Java's FileChannel as the store uses it: what a power cut
 * keeps and drops, failed syncs and writes, and the operations that pass through.
 */
class FaultFsTest {
    private static final int PAGE = 4096;

    @TempDir
    Path dir;
    private Path backing;
    private Path mount;
    private FaultFs fs;

    @BeforeEach
    void mount() throws IOException {
        backing = Files.createDirectory(dir.resolve("backing"));
        mount = Files.createDirectory(dir.resolve("mnt"));
        fs = FaultFs.mount(backing, mount);
    }

    @AfterEach
    void unmount() {
        if (fs != null) {
            fs.close();
        }
    }

    @Test
    void syncedBytesSurviveACut() throws IOException {
        byte[] data = random(3 * PAGE + 100, 1);
        try (FileChannel file = FileChannel.open(mount.resolve("data"), CREATE, WRITE)) {
            write(file, 0, data);
            file.force(false);
        }

        fs.powerCut();

        assertThat(Files.readAllBytes(mount.resolve("data"))).isEqualTo(data);
        assertThat(Files.readAllBytes(backing.resolve("data"))).isEqualTo(data);
    }

    @Test
    void filesTheKernelWroteBackKeepTheirBytesOverACutAndOthersDoNot() throws IOException {
        byte[] log = random(2 * PAGE, 4);
        byte[] data = random(2 * PAGE, 5);
        try (FileChannel a = FileChannel.open(mount.resolve("a.log"), CREATE, WRITE);
                FileChannel b = FileChannel.open(mount.resolve("b.seg"), CREATE, WRITE)) {
            write(a, 0, log);
            write(b, 0, data);
        }

        assertThat(fs.persist("*.log")).isEqualTo(1);
        fs.powerCut();

        assertThat(Files.readAllBytes(mount.resolve("a.log"))).isEqualTo(log);
        assertThat(Files.readAllBytes(mount.resolve("b.seg"))).isEmpty();
    }

    @Test
    void anUnsyncedOverwriteGoesBackToTheSyncedBytes() throws IOException {
        byte[] synced = random(3 * PAGE, 2);
        try (FileChannel file = FileChannel.open(mount.resolve("data"), CREATE, WRITE, READ)) {
            write(file, 0, synced);
            file.force(false);
            write(file, 1000, random(5000, 3)); // pages 0 and 1
            assertThat(read(file, 0, synced.length)).as("before the cut").isNotEqualTo(synced);
        }

        FaultFs.Cut cut = fs.powerCut();

        assertThat(Files.readAllBytes(mount.resolve("data"))).isEqualTo(synced);
        assertThat(cut).isEqualTo(new FaultFs.Cut(1, 2, 0, 0));
    }

    @Test
    void aFileExtendedAfterItsLastSyncIsCutBackToTheSyncedSize() throws IOException {
        byte[] synced = random(10_000, 4);
        try (FileChannel file = FileChannel.open(mount.resolve("data"), CREATE, WRITE)) {
            write(file, 0, synced);
            file.force(true);
            write(file, synced.length, random(5_000, 5));
        }
        Files.write(mount.resolve("never-synced"), random(PAGE, 6));

        FaultFs.Cut cut = fs.powerCut();

        assertThat(Files.readAllBytes(mount.resolve("data"))).isEqualTo(synced);
        assertThat(mount.resolve("never-synced")).as("created at once, its bytes never synced").isEmptyFile();
        assertThat(cut.filesResized()).isEqualTo(2);
    }

    @Test
    void aFailedForceLosesItsPagesEvenAfterALaterForceSucceeds() throws IOException {
        byte[] synced = random(2 * PAGE, 7);
        byte[] failed = random(PAGE, 8);
        byte[] later = random(PAGE, 9);
        try (FileChannel file = FileChannel.open(mount.resolve("data"), CREATE, WRITE, READ)) {
            write(file, 0, synced);
            file.force(false);
            write(file, 0, failed);
            fs.failSync("data", 1);
            assertThatThrownBy(() -> file.force(false)).isInstanceOf(IOException.class)
                    .hasMessageContaining("Input/output error");
            assertThat(read(file, 0, PAGE)).as("readable after the failed sync").isEqualTo(failed);
            write(file, 2 * PAGE, later);
            file.force(false); // succeeds, as on Linux: the failed pages were marked clean
        }
        FaultFs.Stats stats = fs.stats();
        assertThat(stats.syncsFailed()).isEqualTo(1);
        assertThat(stats.syncsOk()).isEqualTo(2);
        assertThat(stats.faults()).containsExactly(new FaultFs.Fault("sync", "data", "EIO", 0, 1));

        FaultFs.Cut cut = fs.powerCut();

        byte[] after = Files.readAllBytes(mount.resolve("data"));
        assertThat(after).hasSize(3 * PAGE);
        assertThat(Arrays.copyOfRange(after, 0, 2 * PAGE)).as("the failed sync's page lost").isEqualTo(synced);
        assertThat(Arrays.copyOfRange(after, 2 * PAGE, 3 * PAGE)).as("synced later").isEqualTo(later);
        assertThat(cut.pagesLost()).isEqualTo(1);
    }

    @Test
    void aPageWrittenAgainAfterAFailedSyncIsDurableAfterTheNextSync() throws IOException {
        byte[] again = random(PAGE, 10);
        try (FileChannel file = FileChannel.open(mount.resolve("data"), CREATE, WRITE)) {
            write(file, 0, random(PAGE, 11));
            file.force(false);
            write(file, 0, random(PAGE, 12));
            fs.failSync("*", 1);
            assertThatThrownBy(() -> file.force(false)).isInstanceOf(IOException.class);
            write(file, 0, again);
            file.force(false);
        }

        fs.powerCut();

        assertThat(Files.readAllBytes(mount.resolve("data"))).isEqualTo(again);
    }

    @Test
    void enospcOnWriteSurfacesAsIOExceptionAndWritesNothing() throws IOException {
        fs.failWrite("full", "ENOSPC", 1);
        byte[] data = random(PAGE, 13);
        try (FileChannel full = FileChannel.open(mount.resolve("full"), CREATE, WRITE);
                FileChannel other = FileChannel.open(mount.resolve("other"), CREATE, WRITE)) {
            write(other, 0, data);
            assertThatThrownBy(() -> full.write(ByteBuffer.wrap(data), 0)).isInstanceOf(IOException.class)
                    .hasMessageContaining("No space left on device");
            assertThat(full.size()).isZero();
            write(full, 0, data); // the fault fired its one time
        }
        assertThat(fs.stats().writesFailed()).isEqualTo(1);
        assertThat(Files.readAllBytes(mount.resolve("full"))).isEqualTo(data);

        fs.failWrite("full", "EIO", 0);
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> Files.write(mount.resolve("full"), data)).isInstanceOf(IOException.class)
                    .hasMessageContaining("Input/output error");
        }
        fs.clear();
        Files.write(mount.resolve("full"), data);
        assertThat(fs.stats().writesFailed()).isEqualTo(4);
    }

    @Test
    void renameLinkAndUnlinkPassThroughAndACutFollowsTheRename() throws IOException {
        byte[] synced = random(PAGE, 14);
        Path a = mount.resolve("a");
        try (FileChannel file = FileChannel.open(a, CREATE, WRITE)) {
            write(file, 0, synced);
            file.force(false);
        }
        Files.createDirectory(mount.resolve("d"));
        Files.move(a, mount.resolve("d/b"), StandardCopyOption.ATOMIC_MOVE);
        assertThat(backing.resolve("a")).doesNotExist();
        assertThat(Files.readAllBytes(backing.resolve("d/b"))).isEqualTo(synced);
        try (FileChannel file = FileChannel.open(mount.resolve("d/b"), WRITE)) {
            write(file, 0, random(2 * PAGE, 15));
        }
        Files.move(mount.resolve("d"), mount.resolve("e"), StandardCopyOption.ATOMIC_MOVE);
        Files.createLink(mount.resolve("link"), mount.resolve("e/b"));
        assertThat(Files.getAttribute(backing.resolve("link"), "unix:nlink")).isEqualTo(2);

        fs.powerCut();

        assertThat(Files.readAllBytes(mount.resolve("e/b"))).as("the synced bytes at the new name").isEqualTo(synced);
        assertThat(Files.readAllBytes(mount.resolve("link"))).isEqualTo(synced);
        Files.delete(mount.resolve("e/b"));
        Files.delete(mount.resolve("link"));
        Files.delete(mount.resolve("e"));
        try (var left = Files.list(backing)) {
            assertThat(left).isEmpty();
        }
    }

    @Test
    void aDirectoryFsyncSucceedsAndCanBeMadeToFail() throws IOException {
        Path d = Files.createDirectory(mount.resolve("d"));
        Files.write(d.resolve("f"), random(100, 16));
        try (FileChannel directory = FileChannel.open(d, READ)) {
            directory.force(true);
            fs.failSync("d", 1);
            assertThatThrownBy(() -> directory.force(true)).isInstanceOf(IOException.class)
                    .hasMessageContaining("Input/output error");
            directory.force(true);
        }
        FaultFs.Stats stats = fs.stats();
        assertThat(stats.syncsOk()).isEqualTo(2);
        assertThat(stats.syncsFailed()).isEqualTo(1);
    }

    @Test
    void aStoreOnTheMountReadsBackWhatItFlushedAfterACut() throws IOException {
        Path store = mount.resolve("store");
        byte[] data = random(4 << 20, 17);
        try (BlockStore blocks = BlockStore.open(store, StoreOptions.defaults())) {
            Volume volume = blocks.createVolume("v", 16L << 20);
            for (int offset = 0; offset < data.length; offset += 64 << 10) {
                blocks.write(volume, offset, ByteBuffer.wrap(data, offset, 64 << 10));
            }
            blocks.flush();
        }

        fs.powerCut();

        try (BlockStore blocks = BlockStore.open(store, StoreOptions.defaults())) {
            ByteBuffer read = ByteBuffer.allocate(data.length);
            blocks.read(blocks.volume("v"), 0, read);
            assertThat(read.array()).isEqualTo(data);
        }
        assertThat(fs.stats().syncsOk()).as("the store synced through the mount").isPositive();
    }

    private static byte[] random(int length, long seed) {
        byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    private static void write(FileChannel file, long position, byte[] bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            file.write(buffer, position + buffer.position());
        }
    }

    private static byte[] read(FileChannel file, long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining() && file.read(buffer, position + buffer.position()) >= 0) {
            // until full or the end
        }
        return buffer.array();
    }
}

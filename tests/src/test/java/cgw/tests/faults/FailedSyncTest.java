package cgw.tests.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import cgw.store.BlockStore;
import cgw.store.StoreFailedException;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A store on a disk whose sync fails once: the flush that met it fails, and so does every later
 * flush, write and relocation, since Linux reports a lost writeback only once and a retry would
 * pass without the data. Reads go on. After a power cut and a restart, everything flushed before
 * the failure is there.
 */
class FailedSyncTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;
    private Path mount;
    private FaultFs fs;
    private BlockStore store;

    @BeforeEach
    void mount() throws IOException {
        fs = FaultFs.mountIn(dir);
        mount = fs.mountPoint();
    }

    @AfterEach
    void unmount() {
        try {
            if (store != null) {
                store.close();
            }
        } catch (StoreFailedException expected) {
            // the store was left failed by the test; closing it reports that
        } finally {
            fs.close();
        }
    }

    @Test
    void aFailedValueLogSyncFailsThatFlushAndEveryLaterOne() {
        refusesEverythingAfterAFailedSync("store/values/*.seg");
    }

    @Test
    void aFailedWalSyncFailsThatFlushAndEveryLaterOne() {
        refusesEverythingAfterAFailedSync("store/*.log");
    }

    /**
     * A rewrite of flushed bytes records their range, synced, before it overwrites them in
     * place: when that sync fails, the write fails with nothing overwritten, and the store
     * refuses writes and flushes as after any failed sync.
     */
    @Test
    void aFailedSyncOfTheRecordOfOverwrittenFlushedBytesOverwritesNothing() {
        store = BlockStore.open(store(), options());
        Volume volume = store.createVolume("disk", 16 * MIB);
        byte[] flushed = pattern(4 * MIB, 1);
        store.write(volume, 0, ByteBuffer.wrap(flushed));
        store.flush();

        fs.failSync("store/values/overwrites", 1);
        assertThatThrownBy(() -> store.write(volume, 0, ByteBuffer.wrap(pattern(MIB, 2))))
                .isInstanceOf(StoreFailedException.class);
        assertThat(fs.stats().syncsFailed()).isEqualTo(1);
        assertThat(read(volume, 0, 4 * MIB)).as("nothing overwritten").isEqualTo(flushed);
        assertThatThrownBy(store::flush).isInstanceOf(StoreFailedException.class);
        restartAfterAPowerCut(options());
        assertThat(read(store.volume("disk"), 0, 4 * MIB)).as("flushed before the failure").isEqualTo(flushed);
    }

    @Test
    void aFailedSyncOfTheCleanersCopiesRelocatesNothing() {
        StoreOptions options = options().withOverwriteInPlace(false).withValueLogSegmentBytes(MIB);
        store = BlockStore.open(store(), options);
        Volume volume = store.createVolume("disk", 8 * MIB);
        byte[] first = pattern(8 * MIB, 1);
        store.write(volume, 0, ByteBuffer.wrap(first));
        byte[] second = pattern(4 * MIB, 2);
        // every other MiB rewritten: each segment of the first write is half garbage
        for (int mib = 0; mib < 8; mib += 2) {
            store.write(volume, (long) mib * MIB, ByteBuffer.wrap(second, mib / 2 * MIB, MIB));
        }
        store.flush();
        byte[] expected = first.clone();
        for (int mib = 0; mib < 8; mib += 2) {
            System.arraycopy(second, mib / 2 * MIB, expected, mib * MIB, MIB);
        }

        fs.failSync("store/values/*.seg", 1);
        assertThatThrownBy(store::collectGarbage).isInstanceOf(StoreFailedException.class);
        assertThat(fs.stats().syncsFailed()).isEqualTo(1);
        // the disk would take the next sync, and a second round would swap to copies whose first
        // sync failed and delete the segments they came from
        assertThatThrownBy(store::collectGarbage).isInstanceOf(StoreFailedException.class);

        assertThat(read(volume, 0, 8 * MIB)).isEqualTo(expected);
        assertThatThrownBy(store::flush).isInstanceOf(StoreFailedException.class);
        restartAfterAPowerCut(options);
        assertThat(read(store.volume("disk"), 0, 8 * MIB)).isEqualTo(expected);
    }

    private void refusesEverythingAfterAFailedSync(String glob) {
        store = BlockStore.open(store(), options());
        Volume volume = store.createVolume("disk", 16 * MIB);
        byte[] flushed = pattern(4 * MIB, 1);
        store.write(volume, 0, ByteBuffer.wrap(flushed));
        store.flush();

        fs.failSync(glob, 1);
        store.write(volume, 4 * MIB, ByteBuffer.wrap(pattern(MIB, 2)));
        assertThatThrownBy(store::flush).isInstanceOf(StoreFailedException.class);
        assertThat(fs.stats().syncsFailed()).isEqualTo(1);
        fs.failSync(glob, 0); // from now on every sync of those files fails: none may be tried

        assertThatThrownBy(store::flush).isInstanceOf(StoreFailedException.class)
                .hasMessageContaining("restart");
        assertThatThrownBy(() -> store.write(volume, 8 * MIB, ByteBuffer.wrap(pattern(MIB, 3))))
                .isInstanceOf(StoreFailedException.class);
        assertThatThrownBy(() -> store.trim(volume, 0, MIB)).isInstanceOf(StoreFailedException.class);
        assertThatThrownBy(() -> store.cut(volume)).isInstanceOf(StoreFailedException.class);
        assertThatThrownBy(() -> store.createVolume("other", MIB)).isInstanceOf(StoreFailedException.class);
        assertThat(read(volume, 0, 4 * MIB)).as("reads go on").isEqualTo(flushed);
        assertThatThrownBy(store::close).as("close reports the failure").isInstanceOf(StoreFailedException.class);
        assertThat(fs.stats().syncsFailed()).as("syncs tried after the failure").isEqualTo(1);
        store = null;
        restartAfterAPowerCut(options());
        assertThat(read(store.volume("disk"), 0, 4 * MIB)).as("flushed before the failure").isEqualTo(flushed);
    }

    /** The process is gone (the store closed or abandoned), then the power: a new store on what is left. */
    private void restartAfterAPowerCut(StoreOptions options) {
        if (store != null) {
            try {
                store.close();
            } catch (StoreFailedException expected) {
                // failed before the cut; it says so again here
            }
        }
        fs.powerCut();
        fs.clear(); // a new boot, on a disk that takes syncs again: the open syncs what it found
        store = BlockStore.open(store(), options);
    }

    private Path store() {
        return mount.resolve("store");
    }

    private static StoreOptions options() {
        return StoreOptions.defaults().withBackgroundGc(false).withCacheBytes(64 << 20, 16 << 20);
    }

    private byte[] read(Volume volume, long offset, int length) {
        ByteBuffer into = ByteBuffer.allocate(length);
        store.read(volume, offset, into);
        return into.array();
    }

    private static byte[] pattern(int length, long seed) {
        byte[] data = new byte[length];
        new Random(seed).nextBytes(data);
        return data;
    }
}

package cgw.store;

import static cgw.store.StoreTesting.filled;
import static cgw.store.StoreTesting.options;
import static cgw.store.StoreTesting.read;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every public entry point of the store against the three things that must stop it: a volume
 * handle whose volume was deleted, a range outside the volume, and a failed sync (after which
 * the store serves reads and refuses every change until it is opened again).
 */
class StoreGuardsTest {
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    @Test
    void aHeldEpochIsNotReleasedUntilItsLastReaderLetsGo() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, filled(BLOCK, 1));
            long epoch = store.cut(volume);
            store.write(volume, 0, filled(BLOCK, 2));
            long other = store.cut(volume);
            EpochHold first = store.hold(volume, epoch);
            EpochHold second = store.hold(volume, epoch);

            assertThatThrownBy(() -> store.release(List.of(new VolumeEpoch(volume, other),
                    new VolumeEpoch(volume, epoch)), new CatalogChanges()))
                    .isInstanceOf(VolumeInUseException.class).hasMessageContaining("epoch " + epoch)
                    .hasMessageContaining("2 reader(s)");
            assertThat(store.retainedEpochs(volume)).as("nothing of a refused release").contains(epoch, other);
            store.collectGarbage();
            assertThat(read(store, volume, epoch, 0, BLOCK)).isEqualTo(filled(BLOCK, 1).array());

            first.close();
            first.close(); // a second close gives back nothing more
            assertThatThrownBy(() -> store.release(volume, epoch)).isInstanceOf(VolumeInUseException.class)
                    .hasMessageContaining("1 reader(s)");
            second.close();
            store.release(volume, epoch);
            assertThat(store.retainedEpochs(volume)).containsExactly(other);
            assertThatThrownBy(() -> store.hold(volume, epoch)).isInstanceOf(EpochNotRetainedException.class);
            store.hold(volume, other).close();
            store.release(volume, other);
        }
    }

    @Test
    void aDeletedVolumesHandleIsRefusedByEveryCall() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, filled(BLOCK, 1));
            long epoch = store.cut(volume);
            store.delete(volume);

            Map<String, ThrowingCallable> calls = new LinkedHashMap<>();
            calls.put("info", () -> store.info(volume));
            calls.put("retainedEpochs", () -> store.retainedEpochs(volume));
            calls.put("sizeBytes at the head", () -> store.sizeBytes(volume, BlockStore.HEAD));
            calls.put("sizeBytes at a snapshot", () -> store.sizeBytes(volume, epoch));
            calls.put("grow", () -> store.grow(volume, 2 << 20));
            calls.put("delete", () -> store.delete(volume));
            calls.put("cut", () -> store.cut(volume));
            calls.put("release", () -> store.release(volume, epoch));
            calls.put("hold", () -> store.hold(volume, epoch));
            calls.put("clone", () -> store.clone(volume, epoch, "clone"));
            calls.put("read", () -> store.read(volume, 0, ByteBuffer.allocate(BLOCK)));
            calls.put("read at a snapshot", () -> store.read(volume, epoch, 0, ByteBuffer.allocate(BLOCK)));
            calls.put("write", () -> store.write(volume, 0, filled(BLOCK, 2)));
            calls.put("writeZeroes", () -> store.writeZeroes(volume, 0, BLOCK));
            calls.put("trim", () -> store.trim(volume, 0, BLOCK));
            calls.put("extents", () -> store.extents(volume, BlockStore.HEAD, 0, BLOCK));
            calls.put("changedBlocks", () -> store.changedBlocks(volume, 0, epoch));
            calls.forEach((name, call) -> assertThatThrownBy(call).as(name)
                    .isInstanceOf(VolumeNotFoundException.class).hasMessageContaining("vm was deleted"));
            assertThat(store.volumes()).isEmpty();
            assertThat(store.createVolume("vm", 1 << 20).id()).isNotEqualTo(volume.id());
        }
    }

    @Test
    void rangesOutsideTheVolumeAreRefusedByEveryCall() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 1 << 20);
            long epoch = store.cut(volume);
            assertThat(store.grow(volume, 2 << 20).sizeBytes()).isEqualTo(2 << 20);
            long end = 2 << 20;

            Map<String, ThrowingCallable> calls = new LinkedHashMap<>();
            calls.put("read past the end", () -> store.read(volume, end - 1, ByteBuffer.allocate(2)));
            calls.put("read past a snapshot's end", () -> store.read(volume, epoch, 1 << 20, ByteBuffer.allocate(1)));
            calls.put("read before the start", () -> store.read(volume, -1, ByteBuffer.allocate(1)));
            calls.put("writeZeroes past the end", () -> store.writeZeroes(volume, end, 1));
            calls.put("trim past the end", () -> store.trim(volume, end - BLOCK, 2 * BLOCK));
            calls.put("trim of a negative length", () -> store.trim(volume, 0, -BLOCK));
            calls.put("extents past the end", () -> store.extents(volume, BlockStore.HEAD, end, 1));
            calls.forEach((name, call) -> assertThatThrownBy(call).as(name).isInstanceOf(OutOfRangeException.class));

            assertThatThrownBy(() -> store.grow(volume, end + 1)).isInstanceOf(InvalidRequestException.class);
            assertThatThrownBy(() -> store.grow(volume, 1 << 20)).isInstanceOf(InvalidRequestException.class);
            assertThat(store.info(volume).sizeBytes()).isEqualTo(end);
        }
    }

    /** A write the epoch gate admitted before a cut lands in the sealed epoch: trims and zeroes too. */
    @Test
    void lateTrimsAndZeroesLandInTheEpochTheyWereAdmittedIn() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, filled(2 * BLOCK, 1));
            long sealed = store.cut(volume);
            store.trim(volume, sealed, 0, BLOCK);
            store.writeZeroes(volume, sealed, BLOCK, BLOCK);
            assertThat(read(store, volume, sealed, 0, 2 * BLOCK)).containsOnly(0);
            assertThat(store.extents(volume, sealed, 0, 2 * BLOCK)).containsExactly(
                    new Extent(0, BLOCK, ExtentType.HOLE), new Extent(BLOCK, BLOCK, ExtentType.ZERO));
        }
    }

    @Test
    void afterAFailedSyncTheStoreServesReadsAndRefusesEveryChange() throws ReflectiveOperationException {
        BlockStore store = BlockStore.open(dir, options());
        try {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, filled(BLOCK, 1));
            long epoch = store.cut(volume);
            store.flush();
            assertThat(store.syncFailed()).isFalse();

            durabilityOf(store).failed("value log segment 1", new IOException("Input/output error"));

            assertThat(store.syncFailed()).isTrue();
            Map<String, ThrowingCallable> calls = new LinkedHashMap<>();
            calls.put("createVolume", () -> store.createVolume("other", 1 << 20));
            calls.put("grow", () -> store.grow(volume, 2 << 20));
            calls.put("delete", () -> store.delete(volume));
            calls.put("cut", () -> store.cut(volume));
            calls.put("release", () -> store.release(volume, epoch));
            calls.put("updateCatalog", () -> store.updateCatalog(new CatalogChanges(), true));
            calls.put("clone", () -> store.clone(volume, epoch, "clone"));
            calls.put("write", () -> store.write(volume, 0, filled(BLOCK, 2)));
            calls.put("writeZeroes", () -> store.writeZeroes(volume, 0, BLOCK));
            calls.put("trim", () -> store.trim(volume, 0, BLOCK));
            calls.put("collectGarbage", store::collectGarbage);
            calls.put("flush", store::flush);
            calls.forEach((name, call) -> assertThatThrownBy(call).as(name)
                    .isInstanceOf(StoreFailedException.class).hasMessageContaining("Input/output error"));
            ByteBuffer direct = ByteBuffer.allocateDirect(64 * BLOCK);
            assertThat(store.writeNoWait(volume, BlockStore.HEAD, 0, direct)).isFalse();

            assertThat(read(store, volume, BlockStore.HEAD, 0, BLOCK)).containsOnly(1);
            assertThat(read(store, volume, epoch, 0, BLOCK)).containsOnly(1);
            assertThat(store.extents(volume, epoch, 0, BLOCK)).containsExactly(new Extent(0, BLOCK, ExtentType.DATA));
            assertThat(store.changedBlocks(volume, 0, epoch).toArray()).containsExactly(0);
            assertThat(store.volumes()).extracting(VolumeInfo::name).containsExactly("vm");
        } finally {
            // closing syncs once more, and must say the store lost its durability: `cgw serve` exits 1
            assertThatThrownBy(store::close).isInstanceOf(StoreFailedException.class);
        }
        try (BlockStore reopened = BlockStore.open(dir, options())) {
            assertThat(reopened.syncFailed()).isFalse();
            Volume volume = reopened.volume("vm");
            assertThat(read(reopened, volume, BlockStore.HEAD, 0, BLOCK)).containsOnly(1);
            reopened.write(volume, 0, filled(BLOCK, 2));
            reopened.flush();
        }
    }

    @Test
    void theBackgroundThreadsRunWhileTheStoreIsOpenAndStopWithIt() {
        Set<Thread> before = Thread.getAllStackTraces().keySet();
        List<Thread> started;
        try (BlockStore store = BlockStore.open(dir, options().withBackgroundGc(true))) {
            started = Thread.getAllStackTraces().keySet().stream()
                    .filter(thread -> !before.contains(thread) && thread.getName().startsWith("cgw-store-"))
                    .toList();
            assertThat(started).extracting(Thread::getName)
                    .containsExactlyInAnyOrder("cgw-store-gc", "cgw-store-defrag");
            assertThat(started).allMatch(Thread::isAlive);
        }
        assertThat(started).noneMatch(Thread::isAlive);
    }

    private static Durability durabilityOf(BlockStore store) throws ReflectiveOperationException {
        Field field = BlockStore.class.getDeclaredField("durability");
        field.setAccessible(true);
        return (Durability) field.get(store);
    }

}

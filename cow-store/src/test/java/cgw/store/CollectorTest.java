package cgw.store;

import static cgw.store.StoreTesting.filled;
import static cgw.store.StoreTesting.options;
import static cgw.store.StoreTesting.read;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.key.CatalogKey;
import cgw.store.key.DirtyKey;
import cgw.store.key.RegionKey;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;

/**
 * What the collector deletes and what it must leave: each case names the versions a block keeps
 * afterwards, since a wrong deletion reads as lost data and a missed one as a space leak that no
 * read shows. The model test checks reads after collections; these check the versions themselves.
 */
class CollectorTest {
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    @Test
    void aTrimmedBlockOfAVolumeWithoutParentLeavesNoVersionOnceNothingOlderIsKept() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, filled(BLOCK, 1));
            long first = store.cut(volume);
            store.trim(volume, 0, BLOCK);
            long second = store.cut(volume);
            store.release(volume, first);
            store.release(volume, second);
            assertThat(store.pendingReleases()).isEqualTo(2);

            BlockStore.GcStats stats = store.collectGarbage();

            assertThat(store.versionsOf(volume, 0)).as("a hole with nothing below it reads like no version").isEmpty();
            assertThat(stats.versionsExamined()).isEqualTo(2);
            assertThat(stats.versionsDeleted()).isEqualTo(2);
            assertThat(stats.tasksDone()).isEqualTo(2);
            assertThat(store.pendingReleases()).isZero();
            assertThat(read(store, volume, BlockStore.HEAD, 0, BLOCK)).containsOnly(0);
        }
    }

    @Test
    void onlyTheOldestKeptVersionMayBeDroppedAsAHole() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, filled(BLOCK, 1));
            long first = store.cut(volume);
            store.trim(volume, 0, BLOCK);
            long second = store.cut(volume);
            store.write(volume, 0, filled(BLOCK, 3));
            long third = store.cut(volume);
            store.release(volume, first);

            store.collectGarbage();

            // snapshot `second` reads zeros with or without its hole; `third` keeps its data
            assertThat(store.versionsOf(volume, 0)).containsExactly(third);
            assertThat(read(store, volume, second, 0, BLOCK)).containsOnly(0);
            assertThat(read(store, volume, third, 0, BLOCK)).containsOnly(3);
        }
    }

    @Test
    void aHoleInTheHeadEpochIsLeftToItsWriters() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, filled(BLOCK, 1));
            long first = store.cut(volume);
            store.trim(volume, 0, BLOCK);
            store.release(volume, first);

            store.collectGarbage();

            // deleting it could delete a version a concurrent write puts under the same key
            assertThat(store.versionsOf(volume, 0)).containsExactly(volume.headEpoch());
        }
    }

    @Test
    void aClonesTrimStaysAHoleSoItsParentDoesNotShowThrough() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume base = store.createVolume("base", 1 << 20);
            store.write(base, 0, filled(BLOCK, 1));
            long at = store.cut(base);
            Volume clone = store.clone(base, at, "clone");
            store.write(clone, 0, filled(BLOCK, 2));
            long first = store.cut(clone);
            store.trim(clone, 0, BLOCK);
            long second = store.cut(clone);
            store.release(clone, first);
            store.release(clone, second);

            store.collectGarbage();

            assertThat(store.versionsOf(clone, 0)).containsExactly(second);
            assertThat(read(store, clone, BlockStore.HEAD, 0, BLOCK)).containsOnly(0);
        }
    }

    @Test
    void aCutsCollectionSurvivesARestart() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, filled(BLOCK, 1));
            long first = store.cut(volume);
            assertThat(store.pendingReleases()).as("the first cut leaves nothing to collect").isZero();
            store.release(volume, first);
            store.collectGarbage();
            store.write(volume, 0, filled(BLOCK, 2)); // the version of `first` is garbage from now on
            store.cut(volume);
            assertThat(store.pendingReleases()).isEqualTo(1);
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThat(store.collectGarbage().versionsDeleted()).isEqualTo(1);
            assertThat(store.versionsOf(volume, 0)).hasSize(1);
            assertThat(read(store, volume, BlockStore.HEAD, 0, BLOCK)).containsOnly(2);
        }
    }

    @Test
    void deletingTheLastCloneOfAnEpochFreesItAcrossARestart() {
        long at;
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume base = store.createVolume("base", 1 << 20);
            store.write(base, 0, filled(BLOCK, 1));
            at = store.cut(base);
            Volume one = store.clone(base, at, "one");
            Volume two = store.clone(base, at, "two");
            store.release(base, at);
            store.write(base, 0, filled(BLOCK, 2));
            store.cut(base);
            store.collectGarbage();
            assertThat(store.versionsOf(base, 0)).as("pinned by two clones").contains(at);

            store.delete(one);
            store.collectGarbage();
            assertThat(store.versionsOf(base, 0)).as("still pinned by one clone").contains(at);
            assertThat(read(store, two, BlockStore.HEAD, 0, BLOCK)).containsOnly(1);

            store.delete(two);
            assertThat(store.pendingReleases()).isEqualTo(1);
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume base = store.volume("base");
            assertThat(store.collectGarbage().versionsDeleted()).isEqualTo(1);
            assertThat(store.versionsOf(base, 0)).doesNotContain(at);
            assertThat(read(store, base, BlockStore.HEAD, 0, BLOCK)).containsOnly(2);
        }
    }

    @Test
    void deletingAVolumeLeavesOtherVolumesCollectionsPending() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume kept = store.createVolume("kept", 1 << 20);
            Volume gone = store.createVolume("gone", 1 << 20);
            for (Volume volume : List.of(kept, gone)) {
                store.write(volume, 0, filled(BLOCK, 1));
                long first = store.cut(volume);
                store.write(volume, 0, filled(BLOCK, 2));
                store.cut(volume);
                store.release(volume, first);
            }
            assertThat(store.pendingReleases()).isEqualTo(2);

            store.delete(gone);

            assertThat(store.pendingReleases()).isEqualTo(1);
            assertThat(store.collectGarbage().versionsDeleted()).isEqualTo(1);
            assertThat(store.versionsOf(kept, 0)).hasSize(1);
        }
    }

    @Test
    void aCollectedVersionTakesItsDirtyEntryWithIt() throws RocksDBException {
        long id;
        long second;
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 1 << 20);
            store.write(volume, 0, filled(BLOCK, 1));
            long first = store.cut(volume);
            store.write(volume, 0, filled(BLOCK, 2));
            second = store.cut(volume);
            store.release(volume, first);
            assertThat(store.collectGarbage().versionsDeleted()).isEqualTo(1);
            id = volume.id;
        }
        assertThat(keysOf(dir, id)).containsExactlyInAnyOrder("catalog V", "catalog E", "blocks 0@" + second,
                "dirty 0@" + second);
    }

    @Test
    void aDeletedVolumeLeavesNoKeyInAnyColumnFamily() throws RocksDBException {
        long id;
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume base = store.createVolume("base", 1 << 20);
            store.write(base, 0, filled(BLOCK, 1));
            long at = store.cut(base);
            Volume clone = store.clone(base, at, "clone");
            store.write(clone, 0, filled(4 * BLOCK, 2));
            long first = store.cut(clone);
            store.write(clone, 0, filled(BLOCK, 3));
            store.cut(clone);
            store.release(clone, first); // a collection still pending
            id = clone.id;

            store.delete(clone);
        }
        assertThat(keysOf(dir, id)).isEmpty();
    }

    /** Every key in the store that belongs to volume {@code id}, as "catalog V", "blocks 0@2", "dirty 0@2". */
    private static List<String> keysOf(Path dir, long id) throws RocksDBException {
        List<ColumnFamilyDescriptor> families = List.of(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY),
                new ColumnFamilyDescriptor(Rocks.REGIONS.getBytes(StandardCharsets.US_ASCII)),
                new ColumnFamilyDescriptor(Rocks.CHANGES.getBytes(StandardCharsets.US_ASCII)));
        List<ColumnFamilyHandle> handles = new ArrayList<>();
        List<String> found = new ArrayList<>();
        try (DBOptions options = new DBOptions();
                RocksDB db = RocksDB.openReadOnly(options, dir.toString(), families, handles)) {
            for (int f = 0; f < handles.size(); f++) {
                try (RocksIterator it = db.newIterator(handles.get(f))) {
                    for (it.seekToFirst(); it.isValid(); it.next()) {
                        ByteBuffer key = ByteBuffer.wrap(it.key());
                        String described = describe(f, key, id);
                        if (described != null) {
                            found.add(described);
                        }
                    }
                }
            }
            handles.forEach(ColumnFamilyHandle::close);
        }
        return found;
    }

    private static @Nullable String describe(int family, ByteBuffer key, long id) {
        return switch (family) {
            case 0 -> key.limit() >= 9 && key.get(0) != CatalogKey.META && key.get(0) != CatalogKey.APP
                    && key.getLong(1) == id ? "catalog " + (char) key.get(0) : null;
            case 1 -> RegionKey.volumeId(key) == id
                    ? "blocks " + RegionKey.region(key) + "@" + RegionKey.epoch(key)
                    : null;
            default -> DirtyKey.volumeId(key) == id
                    ? "dirty " + DirtyKey.region(key) + "@" + DirtyKey.epoch(key)
                    : null;
        };
    }

}

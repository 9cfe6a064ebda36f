package cgw.store;

import static cgw.store.StoreTesting.filled;
import static cgw.store.StoreTesting.options;
import static cgw.store.StoreTesting.read;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlockStoreTest {
    @TempDir
    Path dir;

    /**
     * A whole-block read of the head into a direct buffer (what NBD does) looks the block's
     * head-epoch version up directly, and walks the versions only when there is none: it must
     * read what a range read reads, whatever the block holds.
     */
    @Test
    void singleBlockReadsOfTheHeadReadWhatRangeReadsRead() {
        int block = 4096;
        java.util.SplittableRandom random = new java.util.SplittableRandom(11);
        byte[] inline = new byte[block];
        random.nextBytes(inline);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 64L * block);
            store.write(volume, 0, ByteBuffer.wrap(inline)); // block 0, written alone
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            byte[] data = new byte[16 * block];
            random.nextBytes(data);
            store.write(volume, block, ByteBuffer.wrap(data)); // blocks 1-16: in the log
            long snapshot = store.cut(volume);
            store.write(volume, 2 * block, filled(block, 7)); // block 2: in the new head epoch
            store.writeZeroes(volume, 3L * block, block); // block 3: zero marker
            store.trim(volume, 4L * block, block); // block 4: hole marker
            store.write(volume, 20L * block, ByteBuffer.wrap(data)); // blocks 20-35, then again in place
            store.write(volume, 20L * block, ByteBuffer.wrap(data, 0, 16 * block));
            Volume clone = store.clone(volume, snapshot, "clone");
            store.write(clone, 5L * block, filled(block, 9)); // the clone's own block; the rest falls through
            for (Volume v : List.of(volume, clone)) {
                for (int b = 0; b < 40; b++) {
                    ByteBuffer direct = ByteBuffer.allocateDirect(block);
                    store.read(v, (long) b * block, direct);
                    byte[] single = new byte[block];
                    direct.get(0, single);
                    assertThat(single).as("block %d of %s", b, v.name())
                            .isEqualTo(read(store, v, v.headEpoch(), (long) b * block, block));
                }
            }
            assertThat(read(store, volume, volume.headEpoch(), 0, block)).isEqualTo(inline);
            assertThat(read(store, clone, clone.headEpoch(), 5L * block, block)).containsOnly(9);
        }
    }

    @Test
    void snapshotKeepsOldDataWhileHeadMovesOn() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm1", 1 << 20);
            store.write(volume, 1000, filled(10_000, 7));
            long sealed = store.cut(volume);
            store.write(volume, 4096, filled(100, 9));
            assertThat(read(store, volume, sealed, 4096, 100)).containsOnly(7);
            assertThat(read(store, volume, volume.headEpoch(), 4096, 100)).containsOnly(9);
            assertThat(read(store, volume, volume.headEpoch(), 0, 1000)).containsOnly(0);
            assertThat(read(store, volume, volume.headEpoch(), 4196, 6804)).containsOnly(7);
        }
    }

    @Test
    void lateWritesLandInTheEpochTheyWereAdmittedIn() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm1", 1 << 20);
            store.write(volume, 0, filled(8192, 1));
            long admitted = volume.headEpoch();
            long sealed = store.cut(volume);
            assertThat(sealed).isEqualTo(admitted);
            // tagged before the cut, applied after it: a partial block, zeroes and a trim
            store.write(volume, admitted, 100, filled(10, 2));
            store.writeZeroes(volume, admitted, 4096, 512);
            store.trim(volume, admitted, 65536, 4096);
            // the next epoch's writes come after and see them
            store.write(volume, 200, filled(10, 3));
            assertThat(read(store, volume, sealed, 100, 10)).containsOnly(2);
            assertThat(read(store, volume, sealed, 200, 10)).containsOnly(1);
            assertThat(read(store, volume, sealed, 4096, 512)).containsOnly(0);
            assertThat(read(store, volume, volume.headEpoch(), 100, 10)).containsOnly(2);
            assertThat(read(store, volume, volume.headEpoch(), 200, 10)).containsOnly(3);
            assertThat(store.changedBlocks(volume, sealed - 1, sealed).contains(0)).isTrue();
            assertThatThrownBy(() -> store.write(volume, volume.headEpoch() + 1, 0, filled(1, 1)))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("head is");
        }
    }

    @Test
    void layeredRecordsChangeAtomicallyWithCutsAndReleases() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume a = store.createVolume("a", 1 << 20);
            Volume b = store.createVolume("b", 1 << 20);
            long[] sealed = store.cut(List.of(a, b), epochs -> new CatalogChanges()
                    .put("snapshot/1", (epochs[0] + "," + epochs[1]).getBytes()));
            store.updateCatalog(new CatalogChanges().put("group/g", new byte[]{7}), true);
            assertThat(new String(store.catalogEntries("snapshot/").get("snapshot/1")))
                    .isEqualTo(sealed[0] + "," + sealed[1]);
            // a release that cannot happen changes nothing, records included
            assertThatThrownBy(() -> store.release(List.of(new VolumeEpoch(a, sealed[0]), new VolumeEpoch(b, 99)),
                    new CatalogChanges().delete("snapshot/1"))).isInstanceOf(EpochNotRetainedException.class);
            assertThat(store.catalogEntries("snapshot/")).containsKey("snapshot/1");
            assertThat(store.retainedEpochs(a)).containsExactly(sealed[0]);
            store.release(List.of(new VolumeEpoch(a, sealed[0]), new VolumeEpoch(b, sealed[1])),
                    new CatalogChanges().delete("snapshot/1"));
            assertThat(store.catalogEntries("snapshot/")).isEmpty();
            assertThat(store.retainedEpochs(a)).isEmpty();
            assertThat(store.retainedEpochs(b)).isEmpty();
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            assertThat(store.catalogEntries("")).containsOnlyKeys("group/g");
        }
    }

    @Test
    void reopenKeepsVolumesEpochsAndData() {
        long sealed;
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm1", 1 << 20);
            store.write(volume, 0, ByteBuffer.allocateDirect(8192).put(0, filled(8192, 3), 0, 8192));
            sealed = store.cut(volume);
            store.trim(volume, 0, 4096);
            store.flush();
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm1");
            assertThat(store.retainedEpochs(volume)).containsExactly(sealed);
            assertThat(read(store, volume, sealed, 0, 8192)).containsOnly(3);
            assertThat(store.extents(volume, volume.headEpoch(), 0, 1 << 20)).containsExactly(
                    new Extent(0, 4096, ExtentType.HOLE), new Extent(4096, 4096, ExtentType.DATA),
                    new Extent(8192, (1 << 20) - 8192, ExtentType.HOLE));
        }
    }

    @Test
    void cloneFallsThroughToItsParentEpoch() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume base = store.createVolume("base", 1 << 20);
            store.write(base, 0, filled(16384, 1));
            long sealed = store.cut(base);
            store.write(base, 0, filled(16384, 2));
            Volume clone = store.clone(base, sealed, "clone");
            store.write(clone, 4096, filled(10, 5));
            byte[] head = read(store, clone, clone.headEpoch(), 0, 16384);
            assertThat(head[0]).isEqualTo((byte) 1);
            assertThat(head[4096]).isEqualTo((byte) 5);
            assertThat(head[4106]).isEqualTo((byte) 1);
            assertThatThrownBy(() -> store.delete(base)).isInstanceOf(VolumeInUseException.class);
            store.release(base, sealed);
            store.collectGarbage();
            assertThat(read(store, clone, clone.headEpoch(), 8192, 100)).containsOnly(1);
            store.delete(clone);
            BlockStore.GcStats stats = store.collectGarbage();
            assertThat(stats.versionsDeleted()).isEqualTo(4);
            store.delete(base);
            assertThat(store.volumes()).isEmpty();
        }
    }

    /** The NBD server reads into pooled buffers: every byte past the parent's end must be written as zero. */
    @Test
    void aGrownCloneReadsZerosPastItsParentsEndIntoAReusedBuffer() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            int parentSize = 10240; // two and a half blocks
            Volume base = store.createVolume("base", parentSize);
            store.write(base, 0, filled(parentSize, 1));
            long sealed = store.cut(base);
            Volume clone = store.clone(base, sealed, "clone");
            store.grow(clone, 32768);
            for (ByteBuffer dst : List.of(ByteBuffer.allocate(32768 - 100), ByteBuffer.allocateDirect(32768 - 100))) {
                while (dst.hasRemaining()) {
                    dst.put((byte) 0xA5);
                }
                dst.clear();
                store.read(clone, 100, dst);
                byte[] got = new byte[dst.capacity()];
                dst.get(0, got);
                byte[] expected = new byte[got.length];
                Arrays.fill(expected, 0, parentSize - 100, (byte) 1);
                assertThat(got).isEqualTo(expected);
            }
        }
    }

    @Test
    void releasingTheOldestSnapshotExaminesOnlyWhatChangedSince() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm1", 4 << 20);
            store.write(volume, 0, filled(4 << 20, 1)); // 1024 blocks
            long oldest = store.cut(volume);
            store.write(volume, 8192, filled(4096, 2));
            store.cut(volume);
            store.release(volume, oldest);
            BlockStore.GcStats stats = store.collectGarbage();
            assertThat(stats.versionsDeleted()).isEqualTo(1);
            // the versions of the one region written since: its 16 blocks at the oldest epoch, one at the next
            assertThat(stats.versionsExamined()).isEqualTo(17);
        }
    }

    @Test
    void versionsOverwrittenAfterTheirEpochWasReleasedAreCollectedAtTheNextCut() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm1", 1 << 20);
            store.write(volume, 0, filled(4096, 1));
            long first = store.cut(volume);
            store.release(volume, first);
            assertThat(store.collectGarbage().versionsDeleted()).isZero(); // still the newest: kept
            store.write(volume, 0, filled(4096, 2)); // version 1 is garbage from now on
            store.cut(volume);
            assertThat(store.collectGarbage().versionsDeleted()).isEqualTo(1);
            assertThat(read(store, volume, volume.headEpoch(), 0, 4096)).containsOnly(2);
        }
    }

    @Test
    void changedBlocksBetweenEpochs() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm1", 1 << 20);
            store.write(volume, 0, filled(4096, 1));
            long first = store.cut(volume);
            store.write(volume, 8192, filled(5000, 1));
            long second = store.cut(volume);
            assertThat(store.changedBlocks(volume, first, second).toArray()).containsExactly(2, 3);
            assertThat(store.changedBlocks(volume, 0, second).toArray()).containsExactly(0, 2, 3);
        }
    }

    /**
     * A region rewritten before the next cut puts its record but not its dirty entry again; the
     * changed-block sets stay exact across rewrites, partial writes, zeroes, trims, cuts and a
     * restart (which forgets which entries are there, so the first rewrite after it puts them again).
     */
    @Test
    void rewritesBeforeTheNextCutPutTheirDirtyEntryOnce() {
        int block = 4096;
        String entries = "rocksdb.num-entries-active-mem-table";
        long first;
        long second;
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 1024L * block);
            store.write(volume, 0, filled(64 * block, 1)); // blocks 0-63: regions 0-3
            assertThat(store.dirtyIndexProperty(entries)).isEqualTo(4);
            store.write(volume, 0, filled(64 * block, 2));
            store.write(volume, 10L * block + 100, filled(block, 3)); // 10-11, read-modify-written
            store.writeZeroes(volume, 20L * block, 2L * block);
            store.trim(volume, 30L * block, block);
            assertThat(store.dirtyIndexProperty(entries)).as("rewrites put no dirty entry").isEqualTo(4);
            store.write(volume, 100L * block, filled(block, 4)); // region 6
            assertThat(store.dirtyIndexProperty(entries)).isEqualTo(5);
            first = store.cut(volume);
            store.write(volume, 5L * block, filled(2 * block, 5)); // 5-6 in the new head epoch: region 0
            store.write(volume, 5L * block, filled(2 * block, 6));
            store.trim(volume, 40L * block, block); // region 2
            assertThat(store.dirtyIndexProperty(entries)).as("a cut starts over").isEqualTo(7);
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            store.write(volume, 6L * block, filled(block, 7)); // entry there; the store learns it again
            store.write(volume, 6L * block, filled(block, 8));
            store.write(volume, 7L * block, filled(block, 7));
            second = store.cut(volume);
            store.write(volume, 6L * block, filled(block, 9));
            long third = store.cut(volume);
            long[] firstBlocks = java.util.stream.LongStream.concat(
                    java.util.stream.LongStream.range(0, 64), java.util.stream.LongStream.of(100)).toArray();
            assertThat(store.changedBlocks(volume, 0, first).toArray()).containsExactly(firstBlocks);
            assertThat(store.changedBlocks(volume, first, second).toArray()).containsExactly(5, 6, 7, 40);
            assertThat(store.changedBlocks(volume, second, third).toArray()).containsExactly(6);
            assertThat(read(store, volume, second, 5L * block, 3 * block))
                    .isEqualTo(concat(filled(block, 6).array(), filled(block, 8).array(), filled(block, 7).array()));
        }
    }

    private static byte[] concat(byte[]... parts) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    @Test
    void rejectsBadInput() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            assertThatThrownBy(() -> store.createVolume("a@b", 4096)).isInstanceOf(InvalidRequestException.class);
            assertThatThrownBy(() -> store.createVolume("ok", 1000)).isInstanceOf(InvalidRequestException.class);
            Volume volume = store.createVolume("ok", 4096);
            assertThatThrownBy(() -> store.createVolume("ok", 4096)).isInstanceOf(VolumeExistsException.class);
            assertThatThrownBy(() -> store.write(volume, 4000, filled(100, 1))).isInstanceOf(OutOfRangeException.class);
            assertThatThrownBy(() -> store.read(volume, 7, 0, ByteBuffer.allocate(1)))
                    .isInstanceOf(EpochNotRetainedException.class);
            assertThat(store.cut(List.of(volume))).containsExactly(1);
        }
    }
}

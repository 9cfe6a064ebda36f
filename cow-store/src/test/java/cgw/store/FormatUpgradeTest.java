package cgw.store;

import static cgw.store.StoreTesting.options;
import static cgw.store.StoreTesting.read;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.key.BlockKey;
import cgw.store.key.CatalogKey;
import cgw.store.key.DirtyKey;
import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.DBOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksIterator;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * A store of format 1 (a key per block version, some blocks' bytes inside RocksDB) opens as
 * format 2 with every volume, snapshot and changed-block set as it was. The format-1 store is
 * made from a format-2 one by rewriting its block map by hand, key by key, as format 1 kept it.
 */
class FormatUpgradeTest {
    private static final int BLOCK = 4096;
    private static final byte[] END = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff,
            (byte) 0xff, (byte) 0xff, (byte) 0xff};

    @TempDir
    Path dir;

    @Test
    void aFormatOneStoreIsConvertedWithEverythingItHeld() throws Exception {
        assertConverted(false);
    }

    /** A conversion that crashed left records behind: the next open starts over and ignores them. */
    @Test
    void aConversionThatCrashedStartsOver() throws Exception {
        assertConverted(true);
    }

    private void assertConverted(boolean crashedBefore) throws Exception {
        SplittableRandom random = new SplittableRandom(5);
        byte[] first = bytes(random, 64 * BLOCK);
        byte[] inline = bytes(random, BLOCK);
        byte[] head;
        byte[] atSnapshot;
        long snapshot;
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 128L * BLOCK);
            store.createVolume("empty", 16L * BLOCK);
            store.write(volume, 0, ByteBuffer.wrap(first));
            snapshot = store.cut(volume);
            store.write(volume, 2L * BLOCK, ByteBuffer.wrap(bytes(random, BLOCK)));
            store.write(volume, 10L * BLOCK, ByteBuffer.wrap(inline)); // kept inline below
            store.writeZeroes(volume, 3L * BLOCK, BLOCK);
            store.trim(volume, 4L * BLOCK, BLOCK);
            store.write(volume, 100L * BLOCK + 7, ByteBuffer.wrap(bytes(random, 3 * BLOCK)));
            head = read(store, volume, volume.headEpoch(), 0, 128 * BLOCK);
            atSnapshot = read(store, volume, snapshot, 0, 128 * BLOCK);
            store.flush();
        }
        downgrade(dir, 10, inline, crashedBefore);

        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), 0, 128 * BLOCK)).isEqualTo(head);
            assertThat(read(store, volume, snapshot, 0, 128 * BLOCK)).isEqualTo(atSnapshot);
            long second = store.cut(volume);
            assertThat(store.changedBlocks(volume, snapshot, second).toArray())
                    .containsExactly(2, 3, 4, 10, 100, 101, 102, 103);
            assertThat(read(store, volume, second, 0, 128 * BLOCK)).isEqualTo(head);
            assertThat(store.volume("empty").sizeBytes()).isEqualTo(16L * BLOCK);
            // writes, cuts and the collector work on the converted store
            store.write(volume, 0, ByteBuffer.wrap(new byte[BLOCK]));
            store.release(volume, snapshot);
            store.cut(volume);
            store.collectGarbage();
            Arrays.fill(head, 0, BLOCK, (byte) 0);
            assertThat(read(store, volume, volume.headEpoch(), 0, 128 * BLOCK)).isEqualTo(head);
        }
        assertThat(families(dir)).containsExactlyInAnyOrder("default", Rocks.REGIONS, Rocks.CHANGES);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), 0, 128 * BLOCK)).isEqualTo(head);
        }
    }

    /**
     * Rewrites the store's block map as format 1 kept it: a key per block version in
     * {@code blocks} (block {@code inlineBlock}'s head version as its bytes), a key per written
     * block in {@code dirty}, no region records, format 1. With {@code crashed}, region records
     * of a conversion that did not finish are left behind too.
     */
    private static void downgrade(Path dir, long inlineBlock, byte[] inlineBytes, boolean crashed) throws Exception {
        RocksDB.loadLibrary();
        List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
        for (String name : families(dir)) {
            descriptors.add(new ColumnFamilyDescriptor(name.getBytes(StandardCharsets.US_ASCII)));
        }
        descriptors.add(new ColumnFamilyDescriptor(Rocks.LEGACY_BLOCKS.getBytes(StandardCharsets.US_ASCII)));
        descriptors.add(new ColumnFamilyDescriptor(Rocks.LEGACY_DIRTY.getBytes(StandardCharsets.US_ASCII)));
        List<ColumnFamilyHandle> handles = new ArrayList<>();
        try (DBOptions options = new DBOptions().setCreateMissingColumnFamilies(true);
                RocksDB db = RocksDB.open(options, dir.toString(), descriptors, handles);
                WriteOptions sync = new WriteOptions().setSync(true);
                WriteBatch batch = new WriteBatch()) {
            ColumnFamilyHandle catalog = handles.get(0);
            ColumnFamilyHandle regions = handle(descriptors, handles, Rocks.REGIONS);
            ColumnFamilyHandle changes = handle(descriptors, handles, Rocks.CHANGES);
            ColumnFamilyHandle blocks = handle(descriptors, handles, Rocks.LEGACY_BLOCKS);
            ColumnFamilyHandle dirty = handle(descriptors, handles, Rocks.LEGACY_DIRTY);
            RegionRecord record = new RegionRecord(12);
            long headEpoch = 0;
            byte[] firstPointer = null;
            try (RocksIterator it = db.newIterator(regions)) {
                for (it.seekToFirst(); it.isValid(); it.next()) {
                    ByteBuffer key = ByteBuffer.wrap(it.key());
                    long volume = RegionKey.volumeId(key);
                    long region = RegionKey.region(key);
                    long epoch = RegionKey.epoch(key);
                    headEpoch = Math.max(headEpoch, epoch);
                    record.decode(ByteBuffer.wrap(it.value()));
                    for (int slot = 0; slot < RegionRecord.SLOTS; slot++) {
                        if (!record.has(slot)) {
                            continue;
                        }
                        long block = (region << RegionRecord.SHIFT) + slot;
                        ByteBuffer value = record.value(slot);
                        byte[] bytes = new byte[value.remaining()];
                        value.get(bytes);
                        if (block == inlineBlock && epoch == headEpoch && volume == 1) {
                            bytes = inlineBytes;
                        }
                        if (block == 0 && epoch == 1 && volume == 1) {
                            firstPointer = bytes;
                        }
                        batch.put(blocks, BlockKey.encode(volume, block, epoch), bytes);
                        batch.put(dirty, DirtyKey.encode(volume, epoch, block), new byte[0]);
                    }
                }
            }
            batch.deleteRange(regions, new byte[0], END);
            batch.deleteRange(changes, new byte[0], END);
            if (crashed) {
                // half a conversion: a record for a region nothing was written to (5: blocks
                // 80-95), whose block 80 would read as block 0's first data
                RegionRecord stale = new RegionRecord(12);
                stale.set(0, ByteBuffer.wrap(firstPointer));
                ByteBuffer encoded = ByteBuffer.allocate(RegionRecord.MAX_LENGTH);
                batch.put(regions, RegionKey.encode(1, 5, 1), Arrays.copyOf(encoded.array(), stale.encode(encoded)));
            }
            batch.put(catalog, CatalogKey.meta("format"), ByteBuffer.allocate(8).putLong(1).array());
            db.write(sync, batch);
            handles.forEach(ColumnFamilyHandle::close);
        }
    }

    private static ColumnFamilyHandle handle(List<ColumnFamilyDescriptor> descriptors,
            List<ColumnFamilyHandle> handles, String name) {
        for (int i = 0; i < descriptors.size(); i++) {
            if (new String(descriptors.get(i).getName(), StandardCharsets.US_ASCII).equals(name)) {
                return handles.get(i);
            }
        }
        throw new AssertionError("no column family " + name);
    }

    private static List<String> families(Path dir) throws Exception {
        try (Options options = new Options()) {
            return RocksDB.listColumnFamilies(options, dir.toString()).stream()
                    .map(name -> new String(name, StandardCharsets.US_ASCII)).toList();
        }
    }

    private static byte[] bytes(SplittableRandom random, int length) {
        byte[] data = new byte[length];
        random.nextBytes(data);
        return data;
    }
}

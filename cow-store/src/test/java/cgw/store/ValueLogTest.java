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
        // overwrites append (overwritten in place they would leave no garbage)
        try (BlockStore store = BlockStore.open(dir, options().withOverwriteInPlace(false))) {
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

    /**
     * A write into part of a region merges into the region's record as it is now, also after the
     * cleaner moved the region's other blocks (a merge into the record as a write left it before
     * the move, {@link RecordCache}'s entry, would point them back into a removed segment).
     */
    @Test
    void aPartialWriteAfterTheCleanerMovedItsRegionKeepsTheMove() {
        SplittableRandom random = new SplittableRandom(2);
        int size = 1 << 20;
        int regionBytes = 16 * BLOCK;
        try (BlockStore store = BlockStore.open(dir, options().withOverwriteInPlace(false))) {
            Volume volume = store.createVolume("vm", size);
            byte[] head = random(random, size);
            store.write(volume, 0, ByteBuffer.wrap(head));
            // half of every region appended anew: the first segments are half garbage
            for (int region = 0; region < size / regionBytes; region++) {
                byte[] half = random(random, regionBytes / 2);
                store.write(volume, (long) region * regionBytes, ByteBuffer.wrap(half));
                System.arraycopy(half, 0, head, region * regionBytes, half.length);
            }
            long moved = store.liveValueLogBytes();
            store.collectGarbage();
            assertThat(store.valueLogBytes()).as("the cleaner moved the live halves and removed the old segments")
                    .isEqualTo(moved);
            for (int region = 0; region < size / regionBytes; region++) {
                byte[] block = random(random, BLOCK);
                store.write(volume, (long) region * regionBytes, ByteBuffer.wrap(block));
                System.arraycopy(block, 0, head, region * regionBytes, BLOCK);
            }
            store.collectGarbage();
            assertThat(read(store, volume, volume.headEpoch(), 0, size)).isEqualTo(head);
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
            channel.write(ByteBuffer.wrap(new byte[]{(byte) (one.get(0) ^ 0x40)}), 5 * BLOCK + 17);
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), 0, 5 * BLOCK))
                    .isEqualTo(java.util.Arrays.copyOf(data, 5 * BLOCK));
            assertThatThrownBy(() -> read(store, volume, volume.headEpoch(), 0, data.length))
                    .isInstanceOf(StoreException.class).hasMessageContaining("fails its checksum")
                    .hasMessageContaining("segment");
            assertThatThrownBy(() -> read(store, volume, volume.headEpoch(), 5 * BLOCK + 100, 10))
                    .isInstanceOf(StoreException.class).hasMessageContaining("fails its checksum");
            assertThat(read(store, volume, volume.headEpoch(), 6 * BLOCK, data.length - 6 * BLOCK))
                    .isEqualTo(java.util.Arrays.copyOfRange(data, 6 * BLOCK, data.length));
        }
    }

    /**
     * One write longer than a batch ({@link BlockStore#MAX_BATCH_BLOCKS} blocks), starting and
     * ending inside blocks, is written whole: appended, then again in place, and reads back the
     * same after a restart.
     */
    @Test
    void aWriteOfSeveralBatchesIsWrittenWhole() {
        SplittableRandom random = new SplittableRandom(13);
        int length = (2 * BlockStore.MAX_BATCH_BLOCKS + 3) * BLOCK + 1000;
        long offset = 3 * BLOCK + 100;
        byte[] expected = new byte[(2 * BlockStore.MAX_BATCH_BLOCKS + 8) * BLOCK];
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", expected.length);
            for (int pass = 0; pass < 2; pass++) {
                byte[] data = random(random, length);
                store.write(volume, offset, ByteBuffer.wrap(data));
                System.arraycopy(data, 0, expected, (int) offset, length);
                assertThat(read(store, volume, volume.headEpoch(), 0, expected.length)).isEqualTo(expected);
            }
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), 0, expected.length)).isEqualTo(expected);
        }
    }

    /**
     * A whole group rewritten in place is rewritten again from the run the last write left,
     * without looking its pointers up; that run is of its epoch only: after a cut the next write
     * copies, and the sealed epoch keeps its bytes.
     */
    @Test
    void aRunKnownBeforeACutIsNotOverwrittenAfterIt() {
        SplittableRandom random = new SplittableRandom(7);
        int size = 2 * PointerCache.RUN_BLOCKS * BLOCK;
        byte[] head = random(random, size);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", size);
            for (int round = 0; round < 4; round++) {
                head = random(random, size);
                store.write(volume, 0, ByteBuffer.wrap(head));
            }
            assertThat(store.valueLogBytes()).isEqualTo(size);
            long snapshot = store.cut(volume);
            byte[] sealed = head;
            head = random(random, size);
            store.write(volume, 0, ByteBuffer.wrap(head));
            assertThat(store.valueLogBytes()).as("the first write after a cut copies").isEqualTo(2L * size);
            assertThat(read(store, volume, snapshot, 0, size)).isEqualTo(sealed);
            for (int round = 0; round < 3; round++) {
                head = random(random, size);
                store.write(volume, 0, ByteBuffer.wrap(head));
            }
            assertThat(store.valueLogBytes()).isEqualTo(2L * size);
            assertThat(read(store, volume, snapshot, 0, size)).isEqualTo(sealed);
            assertThat(read(store, volume, volume.headEpoch(), 0, size)).isEqualTo(head);
        }
    }

    /**
     * Runs of 64 KiB or more whose versions are in the head epoch, back to back in the log, are
     * overwritten in place; shorter runs are appended, and a cut makes the next write copy.
     */
    @Test
    void longRunsAreOverwrittenInPlaceUntilACutSharesThem() {
        SplittableRandom random = new SplittableRandom(4);
        int size = 64 * BLOCK;
        byte[] head = random(random, size);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", size);
            store.write(volume, 0, ByteBuffer.wrap(head));
            for (int round = 0; round < 5; round++) {
                head = random(random, size);
                store.write(volume, 0, ByteBuffer.wrap(head));
                // unaligned, over 18 blocks: the partial first and last are read-modify-written, in place too
                byte[] patch = random(random, 70_000);
                store.write(volume, 3 * BLOCK + 700, ByteBuffer.wrap(patch));
                System.arraycopy(patch, 0, head, 3 * BLOCK + 700, patch.length);
            }
            assertThat(store.valueLogBytes()).isEqualTo(size);

            // a short write appends, and breaks the run it was part of
            byte[] small = random(random, 2 * BLOCK);
            store.write(volume, 5 * BLOCK, ByteBuffer.wrap(small));
            System.arraycopy(small, 0, head, 5 * BLOCK, small.length);
            assertThat(store.valueLogBytes()).isEqualTo(size + 2 * BLOCK);
            head = random(random, size);
            store.write(volume, 0, ByteBuffer.wrap(head));
            // blocks 0-4, 5-6 (elsewhere now) are appended; 7-63 overwritten
            assertThat(store.valueLogBytes()).isEqualTo(size + 9 * BLOCK);
            assertThat(read(store, volume, volume.headEpoch(), 0, size)).isEqualTo(head);

            long snapshot = store.cut(volume);
            byte[] sealed = head;
            for (int block = 0; block < size / BLOCK; block++) {
                // one-block reads of the head put the sealed versions it sees into the pointer
                // cache, under the new head epoch: they must not be mistaken for the head's own
                assertThat(read(store, volume, volume.headEpoch(), (long) block * BLOCK, BLOCK))
                        .isEqualTo(java.util.Arrays.copyOfRange(sealed, block * BLOCK, (block + 1) * BLOCK));
            }
            head = random(random, size);
            store.write(volume, 0, ByteBuffer.wrap(head));
            assertThat(store.valueLogBytes()).as("the first write after a cut copies").isEqualTo(2L * size + 9 * BLOCK);
            head = random(random, size);
            store.write(volume, 0, ByteBuffer.wrap(head));
            assertThat(store.valueLogBytes()).isEqualTo(2L * size + 9 * BLOCK);
            assertThat(read(store, volume, snapshot, 0, size)).isEqualTo(sealed);
            assertThat(read(store, volume, volume.headEpoch(), 0, size)).isEqualTo(head);
            store.flush();
        }
        try (BlockStore store = BlockStore.open(dir, options().withOverwriteInPlace(false))) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), 0, size)).isEqualTo(head);
            store.write(volume, 0, ByteBuffer.wrap(head));
            assertThat(store.valueLogBytes()).as("without overwrites every write appends")
                    .isEqualTo(3L * size + 9 * BLOCK);
        }
    }

    /**
     * A range scattered by small writes and rewritten whole is appended whole, laid out again
     * (the pointer cache shows that no run is long enough), and overwritten in place from then
     * on, across flushes and restarts (flushed bytes once their range is recorded: docs/store.md,
     * "Power cuts"); after a restart the cache is empty and the pointers come from RocksDB.
     */
    @Test
    void aScatteredRangeRewrittenWholeIsAppendedThenOverwrittenInPlace() throws IOException {
        SplittableRandom random = new SplittableRandom(9);
        int blocks = 64;
        int size = blocks * BLOCK;
        byte[] head = random(random, size);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", size);
            store.write(volume, 0, ByteBuffer.wrap(head));
            for (int block = 0; block < blocks; block += 2) {
                byte[] one = random(random, BLOCK);
                store.write(volume, (long) block * BLOCK, ByteBuffer.wrap(one));
                System.arraycopy(one, 0, head, block * BLOCK, BLOCK);
            }
            assertThat(store.valueLogBytes()).isEqualTo(size + (blocks / 2) * BLOCK);
            assertThat(read(store, volume, volume.headEpoch(), 0, size)).isEqualTo(head);

            long scattered = (blocks / 2) * BLOCK;
            rewrite(store, volume, random(random, size), 2L * size + scattered,
                    "no run of the scattered range is long enough: all appended");
            rewrite(store, volume, random(random, size), 2L * size + scattered, "laid out again: overwritten in place");
            store.flush();
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            long scattered = (blocks / 2) * BLOCK;
            rewrite(store, volume, random(random, size), 2L * size + scattered,
                    "what an earlier open wrote and flushed: in place, from RocksDB");
            rewrite(store, volume, random(random, size), 2L * size + scattered, "again in the same window");
            store.flush();
            rewrite(store, volume, random(random, size), 2L * size + scattered, "flushed again: in place");
        }
        try (FlushedOverwrites record = FlushedOverwrites.open(dir.resolve(ValueLog.DIRECTORY),
                new Durability(dir))) {
            assertThat(record.unflushed()).as("a clean close leaves nothing to read at open").isEmpty();
        }
    }

    /** Writes {@code data} over the volume from its start; checks the log's size after and what reads back. */
    private static void rewrite(BlockStore store, Volume volume, byte[] data, long logBytes, String what) {
        store.write(volume, 0, ByteBuffer.wrap(data));
        assertThat(store.valueLogBytes()).as(what).isEqualTo(logBytes);
        assertThat(read(store, volume, volume.headEpoch(), 0, data.length)).isEqualTo(data);
    }

    /**
     * A block overwritten in place keeps its CRCs in its segment's table ({@code NNNNNNNNNN.crc}):
     * the first overwrite puts a pointer that says so, later ones write only the table and the
     * bytes, nothing into RocksDB. The table is durable with the segment, read after a restart,
     * and checked like the bytes: a damaged or missing table is an error, never wrong data.
     */
    @Test
    void overwritesInPlaceKeepTheirCrcsInTheSegmentsTable() throws IOException {
        SplittableRandom random = new SplittableRandom(6);
        int size = 256 * BLOCK;
        String entries = "rocksdb.num-entries-active-mem-table";
        byte[] data = random(random, size);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", size);
            store.write(volume, 0, ByteBuffer.wrap(data));
            assertThat(files(".crc")).as("appends need no table").isEmpty();
            data = random(random, size);
            store.write(volume, 0, ByteBuffer.wrap(data));
            long afterFirstOverwrite = store.blocksProperty(entries);
            for (int pass = 0; pass < 3; pass++) {
                data = random(random, size);
                store.write(volume, 0, ByteBuffer.wrap(data));
            }
            assertThat(store.blocksProperty(entries)).as("later overwrites put nothing into RocksDB")
                    .isEqualTo(afterFirstOverwrite);
            assertThat(store.valueLogBytes()).isEqualTo(size);
            assertThat(read(store, volume, volume.headEpoch(), 0, size)).isEqualTo(data);
            store.flush();
        }
        Path table = files(".crc").get(0);
        assertThat(table.getFileName().toString())
                .isEqualTo(segments().get(0).getFileName().toString().replace(".seg", ".crc"));
        assertThat(Files.size(table)).isEqualTo(256L * cgw.store.key.CrcSlot.LENGTH);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), 0, size)).isEqualTo(data);
            long snapshot = store.cut(volume);
            store.write(volume, 0, ByteBuffer.wrap(random(random, size)));
            assertThat(read(store, volume, snapshot, 0, size)).as("a sealed epoch reads through the table")
                    .isEqualTo(data);
            store.release(volume, snapshot);
            store.write(volume, 0, ByteBuffer.wrap(data));
            store.flush();
        }
        // the head's blocks were appended again: the first segment's table is the sealed copy's, now garbage;
        // damage and loss of a live table are reported
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            store.write(volume, 0, ByteBuffer.wrap(data)); // appended: an earlier open wrote them
            store.write(volume, 0, ByteBuffer.wrap(data)); // in place: the live blocks get a table too
            store.flush();
        }
        Path liveTable = files(".crc").get(files(".crc").size() - 1);
        try (FileChannel channel = FileChannel.open(liveTable, StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            // block 9's CRC and previous CRC (the same here: the last overwrite wrote the same bytes)
            ByteBuffer crcs = ByteBuffer.allocate(8);
            channel.read(crcs, 9L * cgw.store.key.CrcSlot.LENGTH);
            crcs.put(1, (byte) (crcs.get(1) ^ 0x10)).put(5, (byte) (crcs.get(5) ^ 0x10));
            channel.write(crcs.flip(), 9L * cgw.store.key.CrcSlot.LENGTH);
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), 0, 9 * BLOCK))
                    .isEqualTo(java.util.Arrays.copyOf(data, 9 * BLOCK));
            assertThatThrownBy(() -> read(store, volume, volume.headEpoch(), 0, size))
                    .isInstanceOf(StoreException.class).hasMessageContaining("fails its checksum")
                    .hasMessageContaining("value log segment");
        }
        Files.delete(liveTable);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThatThrownBy(() -> read(store, volume, volume.headEpoch(), 0, size))
                    .isInstanceOf(StoreException.class).hasMessageContaining("CRC table of value log segment")
                    .hasMessageContaining("does not exist");
        }
    }

    /**
     * An overwrite writes its CRC table slots (naming the old and the new CRC) before the bytes: a
     * crash in between leaves the old bytes, which read back as they were; bytes that are neither
     * are a damaged block.
     */
    @Test
    void aCrashBetweenAnOverwritesSlotsAndItsBytesLeavesTheOldBytes() throws IOException {
        SplittableRandom random = new SplittableRandom(5);
        int run = InPlaceOverwrites.MIN_RUN_BYTES;
        byte[] old = random(random, run);
        byte[] replacement = random(random, run);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 2 * run);
            store.write(volume, run, ByteBuffer.wrap(old));
            store.write(volume, run, ByteBuffer.wrap(replacement));
            store.flush();
            assertThat(store.valueLogBytes()).isEqualTo(run);
        }
        // the crash came after the table slots, before the bytes of blocks 1 and 2 of the run
        Path segment = segments().get(0);
        try (FileChannel channel = FileChannel.open(segment, StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            ByteBuffer found = ByteBuffer.allocate(run);
            channel.read(found, 0);
            assertThat(found.array()).isEqualTo(replacement);
            channel.write(ByteBuffer.wrap(old, BLOCK, 2 * BLOCK), BLOCK);
        }
        byte[] expected = replacement.clone();
        System.arraycopy(old, BLOCK, expected, BLOCK, 2 * BLOCK);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, volume.headEpoch(), run, run)).isEqualTo(expected);
            assertThat(read(store, volume, volume.headEpoch(), run + BLOCK + 10, 20))
                    .isEqualTo(java.util.Arrays.copyOfRange(old, BLOCK + 10, BLOCK + 30));
        }
        try (FileChannel channel = FileChannel.open(segment, StandardOpenOption.WRITE, StandardOpenOption.READ)) {
            byte[] torn = java.util.Arrays.copyOfRange(old, BLOCK, 2 * BLOCK);
            System.arraycopy(replacement, BLOCK, torn, 0, 512);
            channel.write(ByteBuffer.wrap(torn), BLOCK);
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.volume("vm");
            assertThatThrownBy(() -> read(store, volume, volume.headEpoch(), 0, 2 * run))
                    .isInstanceOf(StoreException.class).hasMessageContaining("fails its checksum")
                    .hasMessageContaining("at " + BLOCK + " of value log segment").hasMessageContaining(" or ");
            // a write of the block repairs it: appended, as an earlier open wrote it
            store.write(volume, run + BLOCK, ByteBuffer.wrap(replacement, BLOCK, BLOCK));
            assertThat(read(store, volume, volume.headEpoch(), run + BLOCK, BLOCK))
                    .isEqualTo(java.util.Arrays.copyOfRange(replacement, BLOCK, 2 * BLOCK));
        }
    }

    /**
     * Readers and writers keep going while forced cleaner rounds relocate blocks and delete
     * segments under them: every read sees a whole value some write put there (never a block
     * half overwritten in place, never a deleted file), and no relocation puts back an older
     * generation over a write that replaced it meanwhile. The writer cuts and releases now and
     * then, so that with overwrites in place there is garbage to clean under blocks being
     * overwritten. Half of the reads are single blocks into direct buffers, the reads the
     * {@link PointerCache} serves: they must never see a generation older than one whose write
     * had returned before the read started (a stale cached pointer would).
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "overwrite in place: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void readsAndWritesRunThroughCleanerRounds(boolean overwriteInPlace) throws Exception {
        int blocks = 256;
        // segments of 64 blocks: a group fits one, when it was written back to back
        StoreOptions options = options().withValueLogSegmentBytes(PointerCache.RUN_BLOCKS * BLOCK)
                .withOverwriteInPlace(overwriteInPlace);
        try (BlockStore store = BlockStore.open(dir, options)) {
            Volume volume = store.createVolume("vm", (long) blocks * BLOCK);
            // every block holds its index and a generation in each 8-byte word
            for (int b = 0; b < blocks; b++) {
                store.write(volume, (long) b * BLOCK, block(b, 0));
            }
            AtomicBoolean stop = new AtomicBoolean();
            java.util.concurrent.atomic.AtomicLong noWaitReads = new java.util.concurrent.atomic.AtomicLong();
            java.util.concurrent.atomic.AtomicLong longNoWaitReads = new java.util.concurrent.atomic.AtomicLong();
            java.util.concurrent.atomic.AtomicLong defragmented = new java.util.concurrent.atomic.AtomicLong();
            long[] lastGeneration = new long[blocks]; // written by the writer only, read after it stopped
            java.util.concurrent.atomic.AtomicLongArray acknowledged = new java.util.concurrent.atomic.AtomicLongArray(
                    blocks);
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
                        if (writer && random.nextBoolean()) {
                            store.write(volume, (long) b * BLOCK, block(b, generation));
                            acknowledged.set(b, generation);
                            lastGeneration[b] = generation++;
                        } else if (writer) {
                            // a run long enough to be overwritten in place, or a whole group, which
                            // the next write of it overwrites from the run this one leaves
                            int run = random.nextBoolean()
                                    ? InPlaceOverwrites.MIN_RUN_BYTES / BLOCK
                                    : PointerCache.RUN_BLOCKS;
                            int first = b / run * run;
                            ByteBuffer data = ByteBuffer.allocateDirect(run * BLOCK);
                            for (int i = 0; i < run; i++) {
                                data.put(block(first + i, generation));
                            }
                            store.write(volume, (long) first * BLOCK, data.flip());
                            for (int i = first; i < first + run; i++) {
                                acknowledged.set(i, generation);
                            }
                            java.util.Arrays.fill(lastGeneration, first, first + run, generation++);
                        }
                        if (writer) {
                            if (generation % 200 == 0) {
                                store.release(volume, store.cut(volume));
                            }
                        } else if (random.nextBoolean()) {
                            long before = acknowledged.get(b);
                            ByteBuffer dst = ByteBuffer.allocateDirect(BLOCK);
                            if (random.nextBoolean() && store.readNoWait(volume, (long) b * BLOCK, dst)) {
                                noWaitReads.incrementAndGet();
                            } else {
                                store.read(volume, (long) b * BLOCK, dst);
                            }
                            long word = dst.getLong(0);
                            assertThat(word >>> 32).as("block %d", b).isEqualTo(b);
                            assertThat(word & 0xFFFFFFFFL).as("generation of block %d", b)
                                    .isGreaterThanOrEqualTo(before);
                            for (int at = 8; at < BLOCK; at += 8) {
                                if (dst.getLong(at) != word) {
                                    assertThat(dst.getLong(at)).as("word %d of block %d", at / 8, b).isEqualTo(word);
                                }
                            }
                        } else {
                            // 4 blocks, or a whole group, which asks for it to be defragmented
                            // (read, or readNoWait when it serves it, into a direct buffer)
                            int length = random.nextBoolean() ? 4 : PointerCache.RUN_BLOCKS;
                            boolean direct = random.nextBoolean();
                            ByteBuffer dst = direct
                                    ? ByteBuffer.allocateDirect(length * BLOCK)
                                    : ByteBuffer.allocate(length * BLOCK);
                            int first = Math.min(b, blocks - length);
                            if (direct && store.readNoWait(volume, (long) first * BLOCK, dst)) {
                                longNoWaitReads.incrementAndGet();
                            } else {
                                store.read(volume, (long) first * BLOCK, dst);
                            }
                            // at once, before the next cut makes the request stale, while writes run
                            defragmented.addAndGet(store.defragmentPending());
                            for (int i = 0; i < length; i++) {
                                long word = dst.getLong(i * BLOCK);
                                assertThat(word >>> 32).as("block %d", first + i).isEqualTo(first + i);
                                for (int at = 8; at < BLOCK; at += 8) {
                                    if (dst.getLong(i * BLOCK + at) != word) {
                                        assertThat(dst.getLong(i * BLOCK + at))
                                                .as("word %d of block %d", at / 8, first + i)
                                                .isEqualTo(word);
                                    }
                                }
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
            assertThat(noWaitReads.get()).as("reads served by readNoWait").isPositive();
            assertThat(longNoWaitReads.get()).as("long reads served by readNoWait").isPositive();
            if (!overwriteInPlace) { // else whole groups are mostly in place, which never moves
                assertThat(defragmented.get()).as("blocks moved by the defragmenter").isPositive();
            }
            // versions of the last released epoch that head writes hid after its collection ran are
            // collected with the next cut
            store.release(volume, store.cut(volume));
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

    @Test
    void aRandomlyWrittenRangeReadInOrderIsLaidOutInOrderAndReadsTheSame() throws Exception {
        int blocks = 512;
        List<Integer> order = new java.util.ArrayList<>(java.util.stream.IntStream.range(0, blocks).boxed().toList());
        java.util.Collections.shuffle(order, new java.util.Random(7));
        List<Integer> rewritten = order.subList(0, blocks / 4);
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", (long) blocks * BLOCK);
            for (int b : order) {
                store.write(volume, (long) b * BLOCK, block(b, 1));
            }
            store.cut(volume); // the head epoch starts empty: reads see the sealed epoch's versions
            // (cut before the next one below, which the snapshot check reads)
            for (int b : order.subList(0, blocks / 2)) {
                store.write(volume, (long) b * BLOCK, block(b, 2)); // half of them in the head epoch
            }
            ByteBuffer whole = ByteBuffer.allocateDirect(blocks * BLOCK);
            store.read(volume, 0, whole);
            // what the head sees moves, the sealed epoch's versions as well as its own
            assertThat(store.defragmentPending()).isEqualTo(blocks);
            long sealed = store.cut(volume);
            ByteBuffer snapshot = ByteBuffer.allocateDirect(blocks * BLOCK);
            store.read(volume, sealed, 0, snapshot);
            java.util.Set<Integer> second = new java.util.HashSet<>(order.subList(0, blocks / 2));
            for (int b = 0; b < blocks; b++) {
                assertThat(snapshot.getLong(b * BLOCK)).as("block %d of the snapshot", b)
                        .isEqualTo(((long) b << 32) | (second.contains(b) ? 2 : 1));
            }
            for (int b = 0; b < blocks; b++) {
                store.write(volume, (long) b * BLOCK, block(b, 3)); // in block order, one at a time
            }
            store.read(volume, 0, whole.clear());
            assertThat(store.defragmentPending()).as("blocks already in order").isZero();
            for (int b : rewritten) {
                store.write(volume, (long) b * BLOCK, block(b, 4));
            }
            store.read(volume, 0, whole.clear());
            // each 1 MiB of the read, scattered by the rewrites, is laid out again whole
            assertThat(store.defragmentPending()).as("scattered again").isEqualTo(blocks);
            store.read(volume, 0, whole.clear());
            assertThat(store.defragmentPending()).as("in order after the move").isZero();
            assertThat(store.defragmentedBlocks()).isEqualTo(2L * blocks);
            expectGenerations(store, volume, rewritten, blocks);
            store.collectGarbage();
            expectGenerations(store, volume, rewritten, blocks);
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            expectGenerations(store, store.volume("vm"), rewritten, blocks);
        }
    }

    private static void expectGenerations(BlockStore store, Volume volume, List<Integer> rewritten, int blocks) {
        ByteBuffer whole = ByteBuffer.allocateDirect(blocks * BLOCK);
        store.read(volume, 0, whole);
        for (int b = 0; b < blocks; b++) {
            long word = ((long) b << 32) | (rewritten.contains(b) ? 4 : 3);
            for (int at = 0; at < BLOCK; at += 8) {
                if (whole.getLong(b * BLOCK + at) != word) {
                    assertThat(whole.getLong(b * BLOCK + at)).as("word %d of block %d", at / 8, b).isEqualTo(word);
                }
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

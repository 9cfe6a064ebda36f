package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BlockStore#writeNoWait}: the write an NBD event loop does itself. It must leave exactly
 * what {@code write} would (readable at once and after a reopen, old epochs untouched), and
 * decline (false, nothing changed) whatever would make it wait or is not its case.
 */
class NoWaitWriteTest {
    private static final int BLOCK = 4096;
    /** One {@link PointerCache#RUN_BLOCKS} group: the smallest write it takes. */
    private static final int GROUP = PointerCache.RUN_BLOCKS * BLOCK;
    private static final long SIZE = 16L * GROUP;

    @TempDir
    Path dir;

    @Test
    void aRewriteOfRunsAWriteLaidOutIsDoneInPlaceAndSurvivesAReopen() {
        byte[] third;
        try (BlockStore store = open()) {
            Volume volume = store.createVolume("vm", SIZE);
            byte[] first = write(store, volume, GROUP, 4 * GROUP, 1);
            assertThat(writeNoWait(store, volume, GROUP, 4 * GROUP, 2))
                    .as("the first write appended: where a rewrite goes is not known yet").isNull();
            assertThat(read(store, volume, GROUP, 4 * GROUP)).isEqualTo(first);

            byte[] second = write(store, volume, GROUP, 4 * GROUP, 3); // overwrites in place: runs now known
            long logBytes = store.valueLogBytes();
            third = writeNoWait(store, volume, GROUP, 4 * GROUP, 4);
            assertThat(third).as("a rewrite of known runs").isNotNull();
            assertThat(read(store, volume, GROUP, 4 * GROUP)).isEqualTo(third).isNotEqualTo(second);
            assertThat(store.valueLogBytes()).as("in place: the log did not grow").isEqualTo(logBytes);
            assertThat(store.noWaitWrites()).isEqualTo(1);
            ByteBuffer cached = ByteBuffer.allocateDirect(4 * GROUP);
            assertThat(store.readNoWait(volume, GROUP, cached)).as("its pointers are cached for reads").isTrue();
            assertThat(bytes(cached)).isEqualTo(third);

            byte[] part = writeNoWait(store, volume, 2L * GROUP, GROUP, 5);
            assertThat(part).as("one group of a known run").isNotNull();
            System.arraycopy(part, 0, third, GROUP, GROUP);
            assertThat(read(store, volume, GROUP, 4 * GROUP)).isEqualTo(third);
            store.flush();
        }
        try (BlockStore store = open()) {
            Volume volume = store.volume("vm");
            assertThat(read(store, volume, GROUP, 4 * GROUP)).as("after a reopen").isEqualTo(third);
            assertThat(read(store, volume, 0, GROUP)).as("never written").isEqualTo(new byte[GROUP]);
        }
    }

    @Test
    void whatWouldWaitOrIsNotItsCaseIsDeclinedWithNothingChanged() {
        try (BlockStore store = open()) {
            Volume volume = store.createVolume("vm", SIZE);
            write(store, volume, 0, 8 * GROUP, 1);
            byte[] laidOut = write(store, volume, 0, 8 * GROUP, 2);

            assertThat(writeNoWait(store, volume, BLOCK, GROUP, 3)).as("not aligned to a group").isNull();
            assertThat(writeNoWait(store, volume, 0, GROUP + BLOCK, 3)).as("not whole groups").isNull();
            assertThat(writeNoWait(store, volume, 0, BLOCK, 3)).as("one block").isNull();
            assertThat(writeNoWait(store, volume, 8L * GROUP, GROUP, 3)).as("never written").isNull();
            assertThat(writeNoWait(store, volume, SIZE, GROUP, 3)).as("past the end").isNull();
            assertThat(writeNoWait(store, volume, -GROUP, GROUP, 3)).as("before the start").isNull();
            assertThat(store.writeNoWait(volume, BlockStore.HEAD, 0, ByteBuffer.wrap(new byte[GROUP])))
                    .as("heap buffer").isFalse();
            ByteBuffer zeros = ByteBuffer.allocateDirect(GROUP);
            assertThat(store.writeNoWait(volume, BlockStore.HEAD, 0, zeros))
                    .as("all-zero blocks become markers in RocksDB").isFalse();
            assertThat(read(store, volume, 0, 8 * GROUP)).as("nothing changed").isEqualTo(laidOut);

            store.useWriteBackRoom(new WriteBackRoom(dir.resolve("no-such-vmstat")));
            assertThat(writeNoWait(store, volume, 0, GROUP, 3)).as("no /proc/vmstat: never room").isNull();
            store.useWriteBackRoom(WriteBackRoom.ofThisMachine());
            assertThat(writeNoWait(store, volume, 0, GROUP, 3)).as("room again").isNotNull();
        }
    }

    @Test
    void aCutSealsTheRunsItsEpochLeft() {
        try (BlockStore store = open()) {
            Volume volume = store.createVolume("vm", SIZE);
            write(store, volume, 0, 4 * GROUP, 1);
            write(store, volume, 0, 4 * GROUP, 2);
            byte[] sealed = writeNoWait(store, volume, 0, 4 * GROUP, 3);
            assertThat(sealed).isNotNull();
            long epoch = store.cut(volume);

            assertThat(writeNoWait(store, volume, 0, 4 * GROUP, 4))
                    .as("the sealed epoch's blocks are copied on write, never overwritten").isNull();
            assertThat(writeNoWait(store, volume, epoch, 0, 4 * GROUP, 4)).as("a sealed epoch, named").isNull();
            write(store, volume, 0, 4 * GROUP, 5); // copies on write
            write(store, volume, 0, 4 * GROUP, 6); // overwrites those copies in place
            byte[] head = writeNoWait(store, volume, 0, 4 * GROUP, 7);
            assertThat(head).as("the new head epoch's own runs").isNotNull();

            assertThat(read(store, volume, epoch, 0, 4 * GROUP)).as("the snapshot").isEqualTo(sealed);
            assertThat(read(store, volume, BlockStore.HEAD, 0, 4 * GROUP)).isEqualTo(head);
        }
    }

    @Test
    void aDeletedVolumeIsDeclined() {
        try (BlockStore store = open()) {
            Volume volume = store.createVolume("vm", SIZE);
            write(store, volume, 0, GROUP, 1);
            write(store, volume, 0, GROUP, 2);
            store.delete(volume);
            assertThat(writeNoWait(store, volume, 0, GROUP, 3)).isNull();
        }
    }

    @Test
    void roomIsTheFreerunCeilingLessDirtyAndWritebackPages() throws IOException {
        Path vmstat = dir.resolve("vmstat");
        long margin = WriteBackRoom.MARGIN_BYTES / 4096;
        // ceiling (3000 + 1000) / 2 = 2000 pages over the margin; 1500 dirty + 400 under writeback
        Files.writeString(vmstat, "nr_free_pages 5\nnr_dirty " + 1500 + "\nnr_writeback 400\nnr_writeback_temp 9\n"
                + "nr_dirty_threshold " + (3000 + 2 * margin) + "\nnr_dirty_background_threshold 1000\n");
        WriteBackRoom room = new WriteBackRoom(vmstat);
        assertThat(room.hasRoom(100L * 4096)).as("100 pages of the 100 left").isTrue();
        assertThat(new WriteBackRoom(vmstat).hasRoom(101L * 4096)).as("one page more").isFalse();

        Files.writeString(vmstat, "nr_dirty 1\nnr_writeback 0\n");
        assertThat(new WriteBackRoom(vmstat).hasRoom(4096)).as("thresholds missing").isFalse();
        assertThat(WriteBackRoom.field("nr_dirty_threshold 7\nnr_dirty 3\n", "nr_dirty")).isEqualTo(3);
        assertThat(WriteBackRoom.field("nr_dirty_threshold 7\n", "nr_dirty")).isEqualTo(-1);
    }

    private BlockStore open() {
        return BlockStore.open(dir.resolve("store"), StoreOptions.defaults().withBackgroundGc(false));
    }

    private static byte[] write(BlockStore store, Volume volume, long offset, int length, long seed) {
        byte[] data = random(length, seed);
        store.write(volume, offset, ByteBuffer.allocateDirect(length).put(data).flip());
        return data;
    }

    /** The bytes written, or null when it declined. */
    private static byte[] writeNoWait(BlockStore store, Volume volume, long offset, int length, long seed) {
        return writeNoWait(store, volume, BlockStore.HEAD, offset, length, seed);
    }

    private static byte[] writeNoWait(BlockStore store, Volume volume, long epoch, long offset, int length, long seed) {
        byte[] data = random(length, seed);
        ByteBuffer src = ByteBuffer.allocateDirect(length).put(data).flip();
        boolean done = store.writeNoWait(volume, epoch, offset, src);
        assertThat(src.position()).as("position untouched, as by write").isZero();
        return done ? data : null;
    }

    private static byte[] read(BlockStore store, Volume volume, long offset, int length) {
        return read(store, volume, BlockStore.HEAD, offset, length);
    }

    private static byte[] read(BlockStore store, Volume volume, long epoch, long offset, int length) {
        ByteBuffer dst = ByteBuffer.allocateDirect(length);
        store.read(volume, epoch, offset, dst);
        return bytes(dst);
    }

    private static byte[] bytes(ByteBuffer dst) {
        byte[] out = new byte[dst.remaining()];
        dst.get(dst.position(), out);
        return out;
    }

    private static byte[] random(int length, long seed) {
        byte[] data = new byte[length];
        new SplittableRandom(seed).nextBytes(data);
        return data;
    }
}

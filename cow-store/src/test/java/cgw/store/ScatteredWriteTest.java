package cgw.store;

import static cgw.store.StoreTesting.options;
import static cgw.store.StoreTesting.read;
import static cgw.store.StoreTesting.versioned;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.roaringbitmap.longlong.Roaring64Bitmap;

/**
 * {@link BlockStore#writeBlocks}: blocks scattered over a volume, more regions than one batch
 * holds, some all zeros, some into regions written before: each block reads as written, the
 * others as before, the snapshot before them keeps its content, the changed-block set names
 * exactly them, and all of it survives a restart.
 */
class ScatteredWriteTest {
    private static final int BLOCK = 4096;
    private static final int BLOCKS = 8192; // 512 regions

    @TempDir
    Path dir;

    @Test
    void scatteredBlocksReadAsWrittenAndLeaveEverythingElseAsItWas() {
        SplittableRandom random = new SplittableRandom(5);
        List<Long> chosen = new ArrayList<>();
        for (long block = random.nextInt(7); block < BLOCKS; block += 1 + random.nextInt(40)) {
            chosen.add(block);
        }
        long[] blocks = chosen.stream().mapToLong(Long::longValue).toArray();
        ByteBuffer data = ByteBuffer.allocateDirect(blocks.length * BLOCK);
        for (int i = 0; i < blocks.length; i++) {
            // every fifth all zeros: a marker, not log bytes
            data.put(i % 5 == 0 ? ByteBuffer.allocate(BLOCK) : versioned('S', (int) blocks[i], 1));
        }
        data.flip();
        long snapshot;
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", (long) BLOCKS * BLOCK);
            store.write(volume, 0, versioned('A', 0, BLOCKS));
            snapshot = store.cut(volume);
            store.writeBlocks(volume, blocks, blocks.length, data);
            assertThat(blocks.length).as("more regions than one batch holds").isGreaterThan(64);
            check(store, volume, snapshot, blocks);
            Roaring64Bitmap changed = store.changedSince(volume, snapshot);
            assertThat(changed.toArray()).isEqualTo(blocks);
            store.flush();
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            check(store, store.volume("vm"), snapshot, blocks);
        }
    }

    /** Into regions that already have records at the head: merged with them, not replacing them. */
    @Test
    void scatteredBlocksMergeIntoTheRecordsOfTheirRegionsAtTheHead() {
        long[] blocks = new long[BLOCKS / 16];
        ByteBuffer data = ByteBuffer.allocateDirect(blocks.length * BLOCK);
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = i * 16L + i % 16;
            data.put(versioned('M', (int) blocks[i], 1));
        }
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", (long) BLOCKS * BLOCK);
            store.write(volume, 0, versioned('A', 0, BLOCKS));
            store.writeBlocks(volume, blocks, blocks.length, data.flip());
            ByteBuffer head = ByteBuffer.allocateDirect(BLOCKS * BLOCK);
            store.read(volume, 0, head);
            for (int block = 0; block < BLOCKS; block++) {
                char expected = block % 16 == (block / 16) % 16 ? 'M' : 'A';
                assertThat(head.slice(block * BLOCK, BLOCK)).as("block %d", block)
                        .isEqualTo(versioned(expected, block, 1));
            }
        }
    }

    @Test
    void refusesBlocksOutOfOrderOrPastTheEndOrDataOfTheWrongLength() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 16L * BLOCK);
            ByteBuffer two = ByteBuffer.allocateDirect(2 * BLOCK);
            assertThatThrownBy(() -> store.writeBlocks(volume, new long[]{3, 3}, 2, two))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("ascending");
            assertThatThrownBy(() -> store.writeBlocks(volume, new long[]{3, 2}, 2, two))
                    .isInstanceOf(InvalidRequestException.class);
            assertThatThrownBy(() -> store.writeBlocks(volume, new long[]{3}, 1, two))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("bytes of data");
            assertThatThrownBy(() -> store.writeBlocks(volume, new long[]{3, 16}, 2, two))
                    .isInstanceOf(OutOfRangeException.class);
            assertThat(read(store, volume, volume.headEpoch(), 0, 16 * BLOCK)).containsOnly(0);
        }
    }

    private static void check(BlockStore store, Volume volume, long snapshot, long[] blocks) {
        ByteBuffer head = ByteBuffer.allocateDirect(BLOCKS * BLOCK);
        store.read(volume, 0, head);
        ByteBuffer before = ByteBuffer.allocateDirect(BLOCKS * BLOCK);
        store.read(volume, snapshot, 0, before);
        int next = 0;
        for (int block = 0; block < BLOCKS; block++) {
            boolean written = next < blocks.length && blocks[next] == block;
            ByteBuffer expected = !written
                    ? versioned('A', block, 1)
                    : next % 5 == 0 ? ByteBuffer.allocate(BLOCK) : versioned('S', block, 1);
            assertThat(head.slice(block * BLOCK, BLOCK)).as("block %d", block).isEqualTo(expected);
            assertThat(before.slice(block * BLOCK, BLOCK)).as("block %d of the snapshot", block)
                    .isEqualTo(versioned('A', block, 1));
            if (written) {
                next++;
            }
        }
    }
}

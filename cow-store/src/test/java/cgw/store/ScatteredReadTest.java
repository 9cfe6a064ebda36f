package cgw.store;

import static cgw.store.StoreTesting.options;
import static cgw.store.StoreTesting.versioned;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BlockStore#readBlocks}: scattered blocks read at once hold what a read of each would,
 * at a snapshot and at the head, of a volume and of a clone that falls through to its parent,
 * over blocks written, zeroed, trimmed and never written.
 */
class ScatteredReadTest {
    private static final int BLOCK = 4096;
    private static final int BLOCKS = 4096; // 256 regions

    @TempDir
    Path dir;

    @Test
    void scatteredBlocksReadAsEachReadAlone() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", (long) BLOCKS * BLOCK);
            store.write(volume, 0, versioned('A', 0, BLOCKS / 2));
            long first = store.cut(volume);
            SplittableRandom random = new SplittableRandom(11);
            for (int i = 0; i < 300; i++) {
                int block = random.nextInt(BLOCKS);
                store.write(volume, (long) block * BLOCK, versioned('B', block, 1));
            }
            store.writeZeroes(volume, 100L * BLOCK, 50L * BLOCK);
            store.trim(volume, 1000L * BLOCK, 20L * BLOCK);
            long second = store.cut(volume);
            Volume clone = store.clone(volume, first, "clone");
            store.write(clone, 7L * BLOCK, versioned('C', 7, 9));

            long[] blocks = LongStream.iterate(random.nextInt(5), b -> b < BLOCKS, b -> b + 1 + random.nextInt(9))
                    .toArray();
            for (long epoch : new long[]{first, second, BlockStore.HEAD}) {
                assertReadsAsEachAlone(store, volume, epoch, blocks);
            }
            assertReadsAsEachAlone(store, clone, BlockStore.HEAD, blocks);
        }
    }

    @Test
    void refusesBlocksOutOfOrderOrPastTheEndOrABufferOfTheWrongLength() {
        try (BlockStore store = BlockStore.open(dir, options())) {
            Volume volume = store.createVolume("vm", 16L * BLOCK);
            ByteBuffer two = ByteBuffer.allocate(2 * BLOCK);
            assertThatThrownBy(() -> store.readBlocks(volume, BlockStore.HEAD, new long[]{3, 3}, 2, two))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("ascending");
            assertThatThrownBy(() -> store.readBlocks(volume, BlockStore.HEAD, new long[]{3}, 1, two))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("bytes of data");
            assertThatThrownBy(() -> store.readBlocks(volume, BlockStore.HEAD, new long[]{3, 16}, 2, two))
                    .isInstanceOf(OutOfRangeException.class);
        }
    }

    private static void assertReadsAsEachAlone(BlockStore store, Volume volume, long epoch, long[] blocks) {
        ByteBuffer all = ByteBuffer.allocate(blocks.length * BLOCK);
        store.readBlocks(volume, epoch, blocks, blocks.length, all);
        assertThat(all.position()).as("position unchanged").isZero();
        for (int i = 0; i < blocks.length; i++) {
            ByteBuffer one = ByteBuffer.allocate(BLOCK);
            store.read(volume, epoch, blocks[i] * BLOCK, one);
            assertThat(all.slice(i * BLOCK, BLOCK)).as("block %d at epoch %d of %s", blocks[i], epoch, volume)
                    .isEqualTo(one);
        }
    }
}

package cgw.replication;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The records of a body as a replica writes them, gathered or not: runs of whole blocks, a run
 * that goes back, another volume between, a record that is not whole blocks, and a zero record
 * between two runs. Every byte lands where its record says, on a real store.
 */
class BlockApplierTest {
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    @Test
    void everyRecordLandsWhereItSaysWhetherGatheredOrNot() {
        try (BlockStore store = BlockStore.open(dir,
                StoreOptions.defaults().withCacheBytes(32 << 20, 8 << 20).withBackgroundGc(false))) {
            Volume a = store.createVolume("a", 256L * BLOCK);
            Volume b = store.createVolume("b", 256L * BLOCK);
            store.write(a, 0, filled(256 * BLOCK, 0x11));
            byte[] expectedA = new byte[256 * BLOCK];
            Arrays.fill(expectedA, (byte) 0x11);
            byte[] expectedB = new byte[256 * BLOCK];
            BlockApplier applier = new BlockApplier(store);
            applier.data(a, 10L * BLOCK, filled(3 * BLOCK, 1)); // blocks 10-12
            applier.data(a, 40L * BLOCK, filled(BLOCK, 2)); // ascending: gathered with them
            applier.data(a, 5L * BLOCK, filled(2 * BLOCK, 3)); // goes back: a new call
            applier.data(b, 7L * BLOCK, filled(BLOCK, 4)); // another volume
            applier.data(a, 100L * BLOCK + 100, filled(1000, 5)); // not whole blocks: written as it is
            applier.finish(); // a zero record came next
            store.writeZeroes(a, 41L * BLOCK, BLOCK);
            applier.data(a, 200L * BLOCK, filled(BLOCK, 6));
            applier.finish();
            fill(expectedA, 10 * BLOCK, 3 * BLOCK, 1);
            fill(expectedA, 40 * BLOCK, BLOCK, 2);
            fill(expectedA, 5 * BLOCK, 2 * BLOCK, 3);
            fill(expectedB, 7 * BLOCK, BLOCK, 4);
            fill(expectedA, 100 * BLOCK + 100, 1000, 5);
            fill(expectedA, 41 * BLOCK, BLOCK, 0);
            fill(expectedA, 200 * BLOCK, BLOCK, 6);
            assertThat(read(store, a)).isEqualTo(expectedA);
            assertThat(read(store, b)).isEqualTo(expectedB);
        }
    }

    private static ByteBuffer filled(int length, int value) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) value);
        return ByteBuffer.wrap(bytes);
    }

    private static void fill(byte[] bytes, int from, int length, int value) {
        Arrays.fill(bytes, from, from + length, (byte) value);
    }

    private static byte[] read(BlockStore store, Volume volume) {
        ByteBuffer all = ByteBuffer.allocate((int) volume.sizeBytes());
        store.read(volume, 0, all);
        return all.array();
    }
}

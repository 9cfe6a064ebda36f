package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class HeadDirtyBlocksTest {
    private static final long PAGE = HeadDirtyBlocks.PAGE_BLOCKS;

    @Test
    void holdsWhatWasAddedAndNothingElse() {
        HeadDirtyBlocks set = new HeadDirtyBlocks(7, new AtomicInteger(10));
        long[] added = {0, 63, 64, PAGE - 1, PAGE, 5 * PAGE + 17, (1L << 40) + 3};
        for (long block : added) {
            set.add(block);
        }
        for (long block : added) {
            assertThat(set.contains(block)).as("block %d", block).isTrue();
        }
        for (long block : new long[]{1, 62, 65, PAGE + 1, 5 * PAGE + 16, 2 * PAGE, (1L << 40) + 2}) {
            assertThat(set.contains(block)).as("block %d", block).isFalse();
        }
        assertThat(set.pages()).isEqualTo(4);
    }

    /** Over the budget, blocks are simply not remembered (their entries are put again). */
    @Test
    void aSpentBudgetForgetsInsteadOfGrowing() {
        AtomicInteger budget = new AtomicInteger(2);
        HeadDirtyBlocks first = new HeadDirtyBlocks(1, budget);
        HeadDirtyBlocks second = new HeadDirtyBlocks(1, budget);
        first.add(0);
        first.add(PAGE);
        second.add(3 * PAGE);
        first.add(1); // a page it holds already
        assertThat(first.contains(0)).isTrue();
        assertThat(first.contains(1)).isTrue();
        assertThat(second.contains(3 * PAGE)).isFalse();
        assertThat(budget.get()).isZero();
        first.discard();
        assertThat(first.contains(0)).isFalse();
        assertThat(budget.get()).isEqualTo(2);
        second.add(3 * PAGE);
        assertThat(second.contains(3 * PAGE)).isTrue();
        assertThat(budget.get()).isEqualTo(1);
    }

    @Test
    void concurrentAddsAllLand() {
        AtomicInteger budget = new AtomicInteger(100);
        HeadDirtyBlocks set = new HeadDirtyBlocks(1, budget);
        int threads = 8;
        long blocks = 4 * PAGE;
        IntStream.range(0, threads).parallel().forEach(t -> {
            for (long block = t; block < blocks; block += threads) {
                set.add(block);
            }
        });
        for (long block = 0; block < blocks; block++) {
            assertThat(set.contains(block)).as("block %d", block).isTrue();
        }
        assertThat(budget.get()).isEqualTo(96);
    }
}

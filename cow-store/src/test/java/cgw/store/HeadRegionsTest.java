package cgw.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class HeadRegionsTest {
    private static final long PAGE = HeadRegions.PAGE_REGIONS;

    @Test
    void holdsWhatWasAddedAndNothingElse() {
        HeadRegions set = new HeadRegions(7, new AtomicInteger(10), false);
        long[] added = {0, 63, 64, PAGE - 1, PAGE, 5 * PAGE + 17, (1L << 40) + 3};
        for (long region : added) {
            set.add(region);
        }
        for (long region : added) {
            assertThat(set.contains(region)).as("region %d", region).isTrue();
        }
        for (long region : new long[]{1, 62, 65, PAGE + 1, 5 * PAGE + 16, 2 * PAGE, (1L << 40) + 2}) {
            assertThat(set.contains(region)).as("region %d", region).isFalse();
        }
        assertThat(set.pages()).isEqualTo(4);
    }

    /** Over the budget, regions are simply not remembered (they are looked up), and the set is no longer complete. */
    @Test
    void aSpentBudgetForgetsInsteadOfGrowing() {
        AtomicInteger budget = new AtomicInteger(2);
        HeadRegions first = new HeadRegions(1, budget, true);
        HeadRegions second = new HeadRegions(1, budget, true);
        first.add(0);
        first.add(PAGE);
        second.add(3 * PAGE);
        first.add(1); // a page it holds already
        assertThat(first.contains(0)).isTrue();
        assertThat(first.contains(1)).isTrue();
        assertThat(second.contains(3 * PAGE)).isFalse();
        assertThat(first.complete()).isTrue();
        assertThat(second.complete()).as("it forgot a region").isFalse();
        assertThat(budget.get()).isZero();
        first.discard();
        assertThat(first.contains(0)).isFalse();
        assertThat(first.complete()).isFalse();
        assertThat(budget.get()).isEqualTo(2);
        second.add(3 * PAGE);
        assertThat(second.contains(3 * PAGE)).isTrue();
        assertThat(budget.get()).isEqualTo(1);
    }

    @Test
    void concurrentAddsAllLand() {
        AtomicInteger budget = new AtomicInteger(100);
        HeadRegions set = new HeadRegions(1, budget, true);
        int threads = 8;
        long regions = 4 * PAGE;
        IntStream.range(0, threads).parallel().forEach(t -> {
            for (long region = t; region < regions; region += threads) {
                set.add(region);
            }
        });
        for (long region = 0; region < regions; region++) {
            assertThat(set.contains(region)).as("region %d", region).isTrue();
        }
        assertThat(budget.get()).isEqualTo(96);
    }
}

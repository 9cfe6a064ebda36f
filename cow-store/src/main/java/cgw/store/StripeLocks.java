package cgw.store;

import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * The block locks of a store: 4096 stripes, each guarding the blocks of aligned 16-block regions
 * that hash to it. A write holds its blocks' stripes from before it reads (a read-modify-write,
 * or the pointers it may overwrite in place) until its batch is in RocksDB and its bytes are
 * written; a relocation holds them while it swaps pointers.
 *
 * <h2>Lock order</h2>
 * Every lock of the store is taken in this order, never the other way:
 * <ol>
 *   <li>the collector's lock ({@link Collector}: collector passes, cleaner rounds, swaps of
 *       relocated versions that are not in the head epoch);
 *   <li>the catalog lock ({@link Catalog});
 *   <li>a volume's head lock ({@link Volume#headLock}; cuts take the write side of several in
 *       the order the cut lists them, under the catalog lock, so no two cuts interleave);
 *   <li>stripes, in ascending stripe order ({@link #lock}, {@link #lockInOrder});
 *   <li>the value log's overwrite permit (held by writes that may overwrite in place, from
 *       choosing their targets until their bytes are written, never across a RocksDB call; its
 *       write side is a freeze: {@link OverwriteFence});
 *   <li>the value log's read lock (held by reads and overwrites so that no segment is removed
 *       under them; its write side is the cleaner's removal of segments);
 *   <li>a value log segment's write lock.
 * </ol>
 * Threads that must not wait (an NBD event loop) only try: {@link #tryLock} and {@code tryLock}
 * on the others, giving up with nothing held.
 *
 * <p>Threads: any; the locks are reentrant.
 */
final class StripeLocks {
    private static final int STRIPES = 4096;
    private static final int REGION_SHIFT = 4;

    private final ReentrantLock[] locks = new ReentrantLock[STRIPES];

    StripeLocks() {
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new ReentrantLock();
        }
    }

    /**
     * The stripe of a block: blocks of one aligned region of {@code 1 << REGION_SHIFT} blocks share
     * it. A 1 MiB write then takes 16 locks, not 256 scattered ones (with which concurrent large
     * writes collided on some stripe almost every time and ran one at a time), and random small
     * writes rarely meet in one region.
     */
    int stripeIndex(Volume volume, long block) {
        long mixed = ((block >>> REGION_SHIFT) ^ (volume.id * 0x9E3779B97F4A7C15L)) * 0xBF58476D1CE4E5B9L;
        return (int) (mixed >>> 52) & (STRIPES - 1);
    }

    /** The lock of a block's stripe. */
    ReentrantLock of(Volume volume, long block) {
        return locks[stripeIndex(volume, block)];
    }

    /**
     * Locks the stripes of blocks {@code [first, last]} in ascending stripe order, so that two
     * writers never wait on each other in a cycle. Returns the locked stripes for {@link #unlock}.
     */
    int[] lock(Volume volume, long first, long last) {
        return lockInOrder(stripesOf(volume, first, last));
    }

    /** Locks the stripes of the regions {@code regionIds[0, count)} of a volume, as {@link #lock} does. */
    int[] lockRegions(Volume volume, long[] regionIds, int count) {
        int[] stripes = new int[count];
        for (int i = 0; i < count; i++) {
            stripes[i] = stripeIndex(volume, regionIds[i] << REGION_SHIFT);
        }
        return lockInOrder(stripes);
    }

    /** {@link #lock} if no stripe is held by another thread now; null, with none held, otherwise. */
    int @Nullable [] tryLock(Volume volume, long first, long last) {
        int[] stripes = sortedUnique(stripesOf(volume, first, last));
        for (int i = 0; i < stripes.length; i++) {
            if (!locks[stripes[i]].tryLock()) {
                for (int k = i - 1; k >= 0; k--) {
                    locks[stripes[k]].unlock();
                }
                return null;
            }
        }
        return stripes;
    }

    /**
     * Locks the given stripes, each once, in ascending order (so that no two lockers wait on
     * each other in a cycle); returns them sorted and without repeats, for {@link #unlock}.
     */
    int[] lockInOrder(int[] stripes) {
        stripes = sortedUnique(stripes);
        for (int stripe : stripes) {
            locks[stripe].lock();
        }
        return stripes;
    }

    void unlock(int[] stripes) {
        for (int i = stripes.length - 1; i >= 0; i--) {
            locks[stripes[i]].unlock();
        }
    }

    /**
     * Waits until every write that holds stripe locks now has finished: takes and drops each
     * stripe lock once. A write overwriting in place holds its stripes from before it checks
     * {@link ValueLog#isCleaning} until its bytes are written, so after this no overwrite that
     * checked before a {@link ValueLog#markCleaning} is still running.
     */
    void awaitHolders() {
        for (ReentrantLock stripe : locks) {
            stripe.lock();
            stripe.unlock();
        }
    }

    /** The stripes of blocks {@code [first, last]}, one per stripe region, unsorted. */
    private int[] stripesOf(Volume volume, long first, long last) {
        long firstRegion = first >>> REGION_SHIFT;
        int count = (int) ((last >>> REGION_SHIFT) - firstRegion + 1);
        int[] stripes = new int[count];
        for (int i = 0; i < count; i++) {
            stripes[i] = stripeIndex(volume, (firstRegion + i) << REGION_SHIFT);
        }
        return stripes;
    }

    /** {@code stripes} sorted, each once (in place when there are no repeats). */
    private static int[] sortedUnique(int[] stripes) {
        int count = stripes.length;
        if (count > 1) {
            Arrays.sort(stripes);
            int unique = 1;
            for (int i = 1; i < count; i++) {
                if (stripes[i] != stripes[unique - 1]) {
                    stripes[unique++] = stripes[i];
                }
            }
            stripes = unique == count ? stripes : Arrays.copyOf(stripes, unique);
        }
        return stripes;
    }
}

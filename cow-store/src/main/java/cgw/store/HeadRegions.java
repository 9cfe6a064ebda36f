package cgw.store;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import org.jspecify.annotations.Nullable;

/**
 * The regions of a volume known to have a record at one epoch, its head (and so an entry in the
 * dirty index), so that a write into a region between two cuts knows whether it merges into a
 * record already there (a lookup) or makes the first one (a put of the record and its dirty entry,
 * no lookup).
 *
 * <p>It never claims a record that is not there: a region is added only after the batch that put
 * its record is in RocksDB, and head-epoch records are deleted only with their volume (the
 * collector keeps every head version). It may miss records that are there (after a restart, or
 * once the store's page budget is spent), which costs a lookup. It is <em>complete</em> when it
 * was made for an epoch that began in this process (a cut, a new volume or clone) and has never
 * missed a page: then a region it does not hold has no record at the head, and its first write
 * looks nothing up. A cut gives the volume a new set for the new head.
 *
 * <p>Memory: pages of {@value #PAGE_REGIONS} regions (8 KiB each), allocated when a region of
 * theirs is first added and taken from a budget shared by every volume of the store;
 * {@link #discard} gives them back.
 *
 * <p>Threads: any; lock-free. {@link #discard} must not race {@link #add}: callers hold the
 * volume's head lock, the writers its read side and the cut or delete its write side.
 */
final class HeadRegions {
    static final int PAGE_SHIFT = 16;
    static final int PAGE_REGIONS = 1 << PAGE_SHIFT;
    private static final int PAGE_WORDS = PAGE_REGIONS / Long.SIZE;

    final long epoch;
    private final AtomicInteger pagesLeft;
    /** Whether every region with a record at {@link #epoch} is here; see the class comment. */
    private volatile boolean complete;
    /** Page index (region >>> PAGE_SHIFT) to its bits. */
    private final ConcurrentHashMap<Long, AtomicLongArray> pages = new ConcurrentHashMap<>();

    /**
     * An empty set for {@code epoch}, taking its pages from {@code pagesLeft}; {@code fresh} when
     * the epoch began in this process, so that no region has a record at it yet.
     */
    HeadRegions(long epoch, AtomicInteger pagesLeft, boolean fresh) {
        this.epoch = epoch;
        this.pagesLeft = pagesLeft;
        this.complete = fresh;
    }

    /** Whether a region this set does not hold surely has no record at {@link #epoch}. */
    boolean complete() {
        return complete;
    }

    /** Whether {@code region} is known to have a record at {@link #epoch}. */
    boolean contains(long region) {
        AtomicLongArray page = pages.get(region >>> PAGE_SHIFT);
        return page != null && (page.get(wordOf(region)) & bitOf(region)) != 0;
    }

    /** Records that {@code region}'s record at {@link #epoch} is in RocksDB. */
    void add(long region) {
        AtomicLongArray page = pages.get(region >>> PAGE_SHIFT);
        if (page == null) {
            page = newPage(region >>> PAGE_SHIFT);
            if (page == null) {
                complete = false; // forgotten from now on
                return;
            }
        }
        int word = wordOf(region);
        long bit = bitOf(region);
        long current = page.get(word);
        while ((current & bit) == 0 && !page.weakCompareAndSetVolatile(word, current, current | bit)) {
            current = page.get(word);
        }
    }

    /** Gives the pages back to the budget; the set is empty, and not complete, after. */
    void discard() {
        complete = false;
        for (Long index : pages.keySet()) {
            if (pages.remove(index) != null) {
                pagesLeft.incrementAndGet();
            }
        }
    }

    /** The number of pages held, for tests. */
    int pages() {
        return pages.size();
    }

    private @Nullable AtomicLongArray newPage(long index) {
        if (pagesLeft.getAndDecrement() <= 0) {
            pagesLeft.incrementAndGet();
            return null;
        }
        AtomicLongArray fresh = new AtomicLongArray(PAGE_WORDS);
        AtomicLongArray existing = pages.putIfAbsent(index, fresh);
        if (existing == null) {
            return fresh;
        }
        pagesLeft.incrementAndGet();
        return existing;
    }

    private static int wordOf(long region) {
        return (int) (region & (PAGE_REGIONS - 1)) >>> 6;
    }

    private static long bitOf(long region) {
        return 1L << (region & 63);
    }
}

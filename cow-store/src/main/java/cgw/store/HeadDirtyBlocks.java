package cgw.store;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import org.jspecify.annotations.Nullable;

/**
 * The blocks of a volume known to have an entry in the dirty index at one epoch, its head, so
 * that rewriting a block between two cuts puts one key instead of putting its unchanged dirty
 * entry again (half the memtable inserts of a 4 KiB rewrite).
 *
 * <p>It never claims an entry that is not there: a block is added only after the batch that put
 * its entry is in RocksDB, and head-epoch entries are deleted only with their volume (the
 * collector keeps every head version). It may miss entries that are there (after a restart, or
 * once the store's page budget is spent), which costs only the put it would have saved. A cut
 * gives the volume a new set for the new head.
 *
 * <p>Memory: pages of {@value #PAGE_BLOCKS} blocks (8 KiB each), allocated when a block of theirs
 * is first added and taken from a budget shared by every volume of the store; {@link #discard}
 * gives them back.
 *
 * <p>Threads: any; lock-free. {@link #discard} must not race {@link #add}: callers hold the
 * volume's head lock, the writers its read side and the cut or delete its write side.
 */
final class HeadDirtyBlocks {
    static final int PAGE_SHIFT = 16;
    static final int PAGE_BLOCKS = 1 << PAGE_SHIFT;
    private static final int PAGE_WORDS = PAGE_BLOCKS / Long.SIZE;

    final long epoch;
    private final AtomicInteger pagesLeft;
    /** Page index (block >>> PAGE_SHIFT) to its bits. */
    private final ConcurrentHashMap<Long, AtomicLongArray> pages = new ConcurrentHashMap<>();

    /** An empty set for {@code epoch}, taking its pages from {@code pagesLeft}. */
    HeadDirtyBlocks(long epoch, AtomicInteger pagesLeft) {
        this.epoch = epoch;
        this.pagesLeft = pagesLeft;
    }

    /** Whether {@code block} is known to have a dirty entry at {@link #epoch}. */
    boolean contains(long block) {
        AtomicLongArray page = pages.get(block >>> PAGE_SHIFT);
        return page != null && (page.get(wordOf(block)) & bitOf(block)) != 0;
    }

    /** Records that {@code block}'s dirty entry at {@link #epoch} is in RocksDB. */
    void add(long block) {
        AtomicLongArray page = pages.get(block >>> PAGE_SHIFT);
        if (page == null) {
            page = newPage(block >>> PAGE_SHIFT);
            if (page == null) {
                return;
            }
        }
        int word = wordOf(block);
        long bit = bitOf(block);
        long current = page.get(word);
        while ((current & bit) == 0 && !page.weakCompareAndSetVolatile(word, current, current | bit)) {
            current = page.get(word);
        }
    }

    /** Gives the pages back to the budget; the set is empty after. */
    void discard() {
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

    private static int wordOf(long block) {
        return (int) (block & (PAGE_BLOCKS - 1)) >>> 6;
    }

    private static long bitOf(long block) {
        return 1L << (block & 63);
    }
}

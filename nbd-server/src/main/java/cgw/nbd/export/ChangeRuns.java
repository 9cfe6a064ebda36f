package cgw.nbd.export;

import cgw.store.BlockStore;
import java.util.ArrayList;
import java.util.List;
import org.roaringbitmap.longlong.LongIterator;
import org.roaringbitmap.longlong.Roaring64Bitmap;

/**
 * Answers a {@code cgw:changed-since} block status from the store's changed-block sets: the union
 * of each span's blocks in the range, as runs of changed and unchanged bytes from the asked offset.
 * Block granularity: a run edge falls on a block boundary, except at the range's ends.
 */
final class ChangeRuns {
    private ChangeRuns() {
    }

    static List<ChangeRun> of(BlockStore store, ChangedSince since, long offset, long length) {
        Roaring64Bitmap changed = new Roaring64Bitmap();
        for (ChangedSince.Span span : since.spans()) {
            // an ancestor may be shorter than the clone grew to: past its end nothing was its change
            long clipped = Math.min(length, store.sizeBytes(span.volume(), span.toEpoch()) - offset);
            if (clipped > 0) {
                changed.or(store.changedBlocks(span.volume(), span.fromEpoch(), span.toEpoch(), offset, clipped));
            }
        }
        int blockShift = Integer.numberOfTrailingZeros(store.blockSizeBytes());
        long end = offset + length;
        List<ChangeRun> runs = new ArrayList<>();
        long at = offset;
        long runFirst = -1;
        long runEnd = -1;
        for (LongIterator blocks = changed.getLongIterator(); blocks.hasNext();) {
            long block = blocks.next();
            if (block == runEnd) {
                runEnd++;
                continue;
            }
            if (runFirst >= 0) {
                at = append(runs, at, end, runFirst << blockShift, runEnd << blockShift);
            }
            runFirst = block;
            runEnd = block + 1;
        }
        if (runFirst >= 0) {
            at = append(runs, at, end, runFirst << blockShift, runEnd << blockShift);
        }
        if (at < end) {
            runs.add(new ChangeRun(end - at, false));
        }
        return runs;
    }

    /**
     * Appends the unchanged bytes from {@code at} up to the changed run {@code [from, to)}, then
     * the run, both clipped to {@code end}; returns where the next run starts.
     */
    private static long append(List<ChangeRun> runs, long at, long end, long from, long to) {
        long start = Math.max(at, from);
        long stop = Math.min(end, to);
        if (start > at) {
            runs.add(new ChangeRun(start - at, false));
        }
        if (stop > start) {
            runs.add(new ChangeRun(stop - start, true));
        }
        return Math.max(at, stop);
    }
}

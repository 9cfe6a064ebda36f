package cgw.replication;

import org.roaringbitmap.longlong.LongIterator;
import org.roaringbitmap.longlong.Roaring64Bitmap;

/**
 * Byte ranges of a set of blocks: consecutive blocks merged, each range at most
 * {@code maxRunBytes} and clipped to {@code sizeBytes} (a volume's last block may be short).
 * Stateless.
 */
final class BlockRuns {
    /** Told each range in order. */
    interface Run {
        void accept(long offset, long length);
    }

    private BlockRuns() {
    }

    static void forEach(Roaring64Bitmap blocks, int blockSize, long sizeBytes, long maxRunBytes, Run run) {
        long maxBlocks = Math.max(1, maxRunBytes / blockSize);
        long first = -1;
        long count = 0;
        LongIterator it = blocks.getLongIterator();
        while (it.hasNext()) {
            long block = it.next();
            if (first >= 0 && block == first + count && count < maxBlocks) {
                count++;
                continue;
            }
            emit(first, count, blockSize, sizeBytes, run);
            first = block;
            count = 1;
        }
        emit(first, count, blockSize, sizeBytes, run);
    }

    private static void emit(long first, long count, int blockSize, long sizeBytes, Run run) {
        if (first < 0) {
            return;
        }
        long offset = first * blockSize;
        long end = Math.min(sizeBytes, (first + count) * blockSize);
        if (end > offset) {
            run.accept(offset, end - offset);
        }
    }
}

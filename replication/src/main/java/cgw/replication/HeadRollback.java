package cgw.replication;

import cgw.store.BlockStore;
import cgw.store.Extent;
import cgw.store.Volume;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a volume's head read as one of its retained epochs again, by writing back the blocks
 * changed since (the store's changed-block sets: no scan of the volume), or as an empty volume.
 * A replica undoes a partial apply with it, an old primary the writes it made after the base of
 * a failback, a promotion anything newer than the chosen snapshot. Stateless.
 */
final class HeadRollback {
    private static final Logger log = LoggerFactory.getLogger(HeadRollback.class);
    private static final long RUN_BYTES = 1 << 20;

    private HeadRollback() {
    }

    /** Rolls {@code volume}'s head back to the retained {@code epoch}; returns the bytes written back. */
    static long toEpoch(BlockStore store, Volume volume, long epoch) {
        long baseSize = store.sizeBytes(volume, epoch);
        long headSize = volume.sizeBytes();
        long[] written = new long[1];
        ByteBuffer buffer = ByteBuffer.allocate((int) RUN_BYTES);
        BlockRuns.forEach(store.changedSince(volume, epoch), store.blockSizeBytes(), headSize, RUN_BYTES,
                (offset, length) -> {
                    long inBase = Math.max(0, Math.min(length, baseSize - offset));
                    if (inBase > 0) {
                        for (Extent extent : store.extents(volume, epoch, offset, inBase)) {
                            copy(store, volume, epoch, extent, buffer);
                        }
                    }
                    if (inBase < length) {
                        store.trim(volume, offset + inBase, length - inBase);
                    }
                    written[0] += length;
                });
        if (written[0] > 0) {
            log.info("rolled {} back to epoch {}: {} bytes written back", volume.name(), epoch, written[0]);
        }
        return written[0];
    }

    /** Makes {@code volume}'s head read as zeros everywhere, trimming what its head holds. */
    static long toEmpty(BlockStore store, Volume volume) {
        long trimmed = 0;
        for (Extent extent : store.extents(volume, BlockStore.HEAD, 0, volume.sizeBytes())) {
            if (extent.type() != cgw.store.ExtentType.HOLE) {
                store.trim(volume, extent.offset(), extent.length());
                trimmed += extent.length();
            }
        }
        if (trimmed > 0) {
            log.info("cleared {}: {} bytes trimmed", volume.name(), trimmed);
        }
        return trimmed;
    }

    private static void copy(BlockStore store, Volume volume, long epoch, Extent extent, ByteBuffer buffer) {
        switch (extent.type()) {
            case DATA -> {
                buffer.clear().limit((int) extent.length());
                store.read(volume, epoch, extent.offset(), buffer); // fills it, position unchanged
                store.write(volume, extent.offset(), buffer);
            }
            case ZERO -> store.writeZeroes(volume, extent.offset(), extent.length());
            case HOLE -> store.trim(volume, extent.offset(), extent.length());
        }
    }
}

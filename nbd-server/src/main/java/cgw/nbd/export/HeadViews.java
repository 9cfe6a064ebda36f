package cgw.nbd.export;

import cgw.store.BlockStore;
import cgw.store.Volume;

/**
 * What export {@code VOLUME} shows of a volume: its writable head ({@link BlockStore#HEAD}), a
 * retained epoch read-only (a replica shows its newest complete epoch there), or nothing
 * ({@link #NONE}: the export does not exist yet).
 */
@FunctionalInterface
public interface HeadViews {
    long NONE = -1;

    /** Every volume's head, writable. */
    HeadViews HEADS = volume -> BlockStore.HEAD;

    long epoch(Volume volume);
}

package cgw.nbd.export;

import cgw.store.Volume;
import java.util.List;

/**
 * The {@code cgw:changed-since:SNAPSHOT} meta context resolved for one export: the blocks written
 * since the snapshot are those each span's volume wrote between its two epochs. An export of a
 * volume the snapshot holds has one span; a clone's adds one per volume up its clone chain to the
 * one the snapshot holds (the clone's own writes since it was cloned, then its parent's between
 * the snapshot and the epoch the clone was made from).
 *
 * @param snapshot the snapshot as the client named it
 * @param spans    volumes and epochs, the export's own volume first; empty when nothing can differ
 */
public record ChangedSince(String snapshot, List<Span> spans) {
    public static final String PREFIX = "cgw:changed-since:";

    public ChangedSince {
        spans = List.copyOf(spans);
    }

    /** The context's name as negotiated. */
    public String contextName() {
        return PREFIX + snapshot;
    }

    /**
     * Blocks of {@code volume} written after {@code fromEpoch} (0: since it was created or cloned)
     * up to {@code toEpoch} ({@link cgw.store.BlockStore#HEAD}: the head as it is when asked).
     */
    public record Span(Volume volume, long fromEpoch, long toEpoch) {
    }
}

package cgw.replication;

import cgw.store.Volume;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An epoch a replica is applying: begun, receiving block bodies, not yet committed. Lost with
 * the process; the next begin rolls the heads back. Bodies of blocks are applied side by side: the counts are atomic.
 */
final class OpenEpoch {
    final long generation;
    final String primary;
    final Origin origin;
    final long createdAt;
    final int keep;
    final List<Volume> volumes;
    final AtomicLong bodies = new AtomicLong();
    final AtomicLong bytes = new AtomicLong();

    OpenEpoch(long generation, String primary, Origin origin, long createdAt, int keep, List<Volume> volumes) {
        this.generation = generation;
        this.primary = primary;
        this.origin = origin;
        this.createdAt = createdAt;
        this.keep = keep;
        this.volumes = List.copyOf(volumes);
    }
}

package cgw.replication;

import cgw.store.Volume;
import java.util.List;

/**
 * An epoch a replica is applying: begun, receiving block bodies, not yet committed. Lost with
 * the process; the next begin rolls the heads back. Counts guarded by the group's apply lock.
 */
final class OpenEpoch {
    final long generation;
    final String primary;
    final Origin origin;
    final long createdAt;
    final int keep;
    final List<Volume> volumes;
    long bodies;
    long bytes;

    OpenEpoch(long generation, String primary, Origin origin, long createdAt, int keep, List<Volume> volumes) {
        this.generation = generation;
        this.primary = primary;
        this.origin = origin;
        this.createdAt = createdAt;
        this.keep = keep;
        this.volumes = List.copyOf(volumes);
    }
}

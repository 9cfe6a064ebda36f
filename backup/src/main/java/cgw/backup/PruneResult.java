package cgw.backup;

import java.util.List;

/** What a prune kept and removed. */
public record PruneResult(List<Long> keptSnapshots, List<Long> deletedSnapshots, long chunksDeleted) {
    public PruneResult {
        keptSnapshots = List.copyOf(keptSnapshots);
        deletedSnapshots = List.copyOf(deletedSnapshots);
    }
}

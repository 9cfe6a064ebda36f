package cgw.backup;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes old snapshots from a repository and the chunks only they used. Under the exclusive
 * lock (no export may be deciding that a chunk "already exists" meanwhile), it reads every kept
 * manifest first (one it cannot read stops the prune before anything is deleted), deletes the
 * other manifests, then the chunks no kept manifest names, then what interrupted writes left.
 * A crash part-way leaves every kept snapshot whole: at worst some garbage for the next prune.
 * Runs on the caller's thread.
 */
public final class Pruner {
    private static final Logger LOG = LoggerFactory.getLogger(Pruner.class);

    private final Repository repository;

    public Pruner(Repository repository) {
        this.repository = repository;
    }

    /** Keeps the {@code keepLast} newest snapshots (by id, which grows with time) and removes the rest. */
    public PruneResult keepLast(int keepLast) {
        if (keepLast < 1) {
            throw new IllegalArgumentException("keep-last must be at least 1, got " + keepLast);
        }
        try (RepositoryLock lock = repository.lock(true, "prune")) {
            List<Long> ids = repository.snapshotIds();
            List<Long> kept = ids.subList(Math.max(0, ids.size() - keepLast), ids.size());
            List<Long> deleted = ids.subList(0, ids.size() - kept.size());
            Set<ChunkId> referenced = new HashSet<>();
            for (long id : kept) {
                for (Manifest.VolumeEntry v : repository.readManifest(id).volumes()) {
                    for (Manifest.ChunkRef ref : v.chunks()) {
                        referenced.add(ref.id());
                    }
                }
            }
            for (long id : deleted) {
                repository.deleteManifest(id);
                LOG.info("pruned snapshot {} from {}", id, repository.describe());
            }
            long chunksDeleted = 0;
            for (ChunkId id : repository.chunkIds()) {
                if (!referenced.contains(id)) {
                    repository.deleteChunk(id);
                    chunksDeleted++;
                    if (chunksDeleted % Exporter.WINDOW_CHUNKS == 0) {
                        lock.refreshIfDue();
                    }
                }
            }
            repository.objects().removeIncomplete();
            PruneResult result = new PruneResult(kept, deleted, chunksDeleted);
            LOG.info("pruned {}: {}", repository.describe(), result);
            return result;
        }
    }
}

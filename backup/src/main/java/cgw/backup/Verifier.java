package cgw.backup;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks a repository: every manifest decodes, and every chunk (all of them, or those one
 * snapshot needs) is there, decodes and hashes to its name. Reports each broken object with the
 * snapshots that reference it rather than stopping at the first. Reads only. One job thread; a
 * {@link ChunkWorkers} pool reads and re-hashes.
 */
public final class Verifier {
    private static final Logger LOG = LoggerFactory.getLogger(Verifier.class);

    private final Repository repository;
    private final JobOptions options;

    public Verifier(Repository repository, JobOptions options) {
        this.repository = repository;
        this.options = options;
    }

    /** Checks the whole repository. */
    public VerifyReport verifyAll() {
        return verify(null);
    }

    /** Checks one snapshot's manifest and the chunks it needs. */
    public VerifyReport verifySnapshot(long snapshotId) {
        return verify(snapshotId);
    }

    private VerifyReport verify(Long onlySnapshot) {
        try (RepositoryLock lock = repository.lock(false, "verify")) {
            ConcurrentLinkedQueue<VerifyReport.Problem> problems = new ConcurrentLinkedQueue<>();
            Map<ChunkId, List<Long>> references = new HashMap<>();
            List<Long> snapshots = onlySnapshot == null ? repository.snapshotIds() : List.of(onlySnapshot);
            int manifests = 0;
            for (long id : snapshots) {
                try {
                    Manifest manifest = repository.readManifest(id);
                    manifests++;
                    for (Manifest.VolumeEntry v : manifest.volumes()) {
                        for (Manifest.ChunkRef ref : v.chunks()) {
                            List<Long> users = references.computeIfAbsent(ref.id(), k -> new ArrayList<>(1));
                            if (users.isEmpty() || users.get(users.size() - 1) != id) {
                                users.add(id);
                            }
                        }
                    }
                } catch (CorruptObjectException | RepositoryFormatException e) {
                    problems.add(
                            new VerifyReport.Problem(Manifest.objectKey(id), "corrupt", e.getMessage(), List.of(id)));
                }
            }
            Set<ChunkId> toCheck = new HashSet<>(references.keySet());
            long unreferenced = 0;
            if (onlySnapshot == null) {
                Set<ChunkId> stored = new HashSet<>(repository.chunkIds());
                for (ChunkId id : references.keySet()) {
                    if (!stored.contains(id)) {
                        problems.add(missing(id, references.get(id)));
                        toCheck.remove(id);
                    }
                }
                for (ChunkId id : stored) {
                    if (toCheck.add(id)) {
                        unreferenced++;
                    }
                }
            }
            AtomicLong chunks = new AtomicLong();
            long bytesTotal = (long) toCheck.size() * repository.chunkSizeBytes();
            try (ChunkWorkers workers = new ChunkWorkers("verify", options, bytesTotal)) {
                int n = 0;
                for (ChunkId id : toCheck) {
                    List<Long> users = references.getOrDefault(id, List.of());
                    workers.submit(0, () -> {
                        try {
                            workers.bytesDone.addAndGet(repository.readChunk(id).remaining());
                            chunks.incrementAndGet();
                        } catch (ObjectNotFoundException e) {
                            problems.add(missing(id, users));
                        } catch (CorruptObjectException e) {
                            problems.add(new VerifyReport.Problem(id.objectKey(), "corrupt", e.getMessage(), users));
                        }
                    });
                    if (++n % Exporter.WINDOW_CHUNKS == 0) {
                        lock.refreshIfDue();
                    }
                }
                workers.awaitAll();
                VerifyReport report = new VerifyReport(manifests, chunks.get(), workers.bytesDone.get(), unreferenced,
                        new ArrayList<>(problems));
                if (!report.clean()) {
                    LOG.warn("verify of {} found {} problems", repository.describe(), report.problems().size());
                }
                return report;
            }
        }
    }

    private static VerifyReport.Problem missing(ChunkId id, List<Long> users) {
        return new VerifyReport.Problem(id.objectKey(), "missing", "no such object", users);
    }
}

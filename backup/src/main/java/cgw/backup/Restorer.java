package cgw.backup;

import cgw.store.BlockStore;
import cgw.store.Volume;
import cgw.store.VolumeExistsException;
import cgw.store.VolumeInfo;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restores a snapshot of a repository into new volumes named {@code PREFIX + VOLUME}, byte for
 * byte: every data chunk is read, checked against its id and written; zero chunks are left as
 * holes of the new volume. All names are checked free before anything is created; a failed or
 * cancelled restore deletes the volumes it created. One job thread plans; a
 * {@link ChunkWorkers} pool reads chunks and writes the store.
 */
public final class Restorer {
    private static final Logger LOG = LoggerFactory.getLogger(Restorer.class);

    private final BlockStore store;
    private final Repository repository;
    private final JobOptions options;

    public Restorer(BlockStore store, Repository repository, JobOptions options) {
        this.store = store;
        this.repository = repository;
        this.options = options;
    }

    /**
     * Restores snapshot {@code snapshotId}. {@link VolumeExistsException} (nothing created) when a
     * target name is taken; {@link ChunkUnreadableException} naming the chunk when one is missing
     * or corrupt.
     */
    public RestoreResult restore(long snapshotId, String prefix) {
        long start = System.nanoTime();
        try (RepositoryLock lock = repository.lock(false, "restore of snapshot " + snapshotId)) {
            Manifest manifest = repository.readManifest(snapshotId);
            Map<String, String> names = new LinkedHashMap<>();
            for (Manifest.VolumeEntry v : manifest.volumes()) {
                names.put(v.name(), prefix + v.name());
            }
            Set<String> existing = store.volumes().stream().map(VolumeInfo::name).collect(Collectors.toSet());
            List<String> taken = names.values().stream().filter(existing::contains).toList();
            if (!taken.isEmpty()) {
                throw new VolumeExistsException("cannot restore snapshot " + snapshotId + ": volumes exist: "
                        + String.join(", ", taken));
            }
            List<Volume> created = new ArrayList<>();
            try {
                for (Manifest.VolumeEntry v : manifest.volumes()) {
                    created.add(store.createVolume(names.get(v.name()), v.sizeBytes()));
                }
                RestoreResult result = writeChunks(manifest, created, names, lock, start);
                store.flush();
                LOG.info("restored snapshot {} from {}: {}", snapshotId, repository.describe(), result);
                return result;
            } catch (RuntimeException e) {
                deleteCreated(created, e);
                throw e;
            }
        }
    }

    private RestoreResult writeChunks(Manifest manifest, List<Volume> volumes, Map<String, String> names,
            RepositoryLock lock, long start) {
        long bytesTotal = 0;
        for (Manifest.VolumeEntry v : manifest.volumes()) {
            for (Manifest.ChunkRef ref : v.chunks()) {
                bytesTotal += v.chunkLengthBytes(ref.index());
            }
        }
        AtomicLong chunksRead = new AtomicLong();
        // each worker reads its chunks into one buffer of its own: a chunk is written before the next is read
        int maxStored = repository.maxStoredChunkBytes();
        ThreadLocal<ByteBuffer> scratch = ThreadLocal.withInitial(() -> ByteBuffer.allocate(maxStored));
        try (ChunkWorkers workers = new ChunkWorkers("restore", options, bytesTotal)) {
            for (int i = 0; i < volumes.size(); i++) {
                Manifest.VolumeEntry entry = manifest.volumes().get(i);
                Volume volume = volumes.get(i);
                int n = 0;
                for (Manifest.ChunkRef ref : entry.chunks()) {
                    int length = entry.chunkLengthBytes(ref.index());
                    workers.submit(length, () -> {
                        long offset = ref.index() * entry.chunkSizeBytes();
                        store.write(volume, offset, readChunk(ref.id(), entry, offset, length, scratch.get()));
                        chunksRead.incrementAndGet();
                        workers.bytesDone.addAndGet(length);
                    });
                    if (++n % Exporter.WINDOW_CHUNKS == 0) {
                        lock.refreshIfDue();
                    }
                }
            }
            workers.awaitAll();
        }
        return new RestoreResult(manifest.snapshotId(), names, chunksRead.get(), bytesTotal, System.nanoTime() - start);
    }

    private ByteBuffer readChunk(ChunkId id, Manifest.VolumeEntry entry, long offset, int length, ByteBuffer reuse) {
        try {
            ByteBuffer plain = repository.readChunk(id, reuse);
            if (plain.remaining() != length) {
                throw new CorruptObjectException(
                        id.objectKey() + ": holds " + plain.remaining() + " bytes, the volume needs "
                                + length + " there");
            }
            return plain;
        } catch (ObjectNotFoundException | CorruptObjectException e) {
            throw new ChunkUnreadableException(id, entry.name(), offset, e);
        }
    }

    private void deleteCreated(List<Volume> created, RuntimeException cause) {
        for (Volume volume : created) {
            try {
                store.delete(volume);
            } catch (RuntimeException e) {
                LOG.error("could not delete {} after a failed restore", volume, e);
                cause.addSuppressed(e);
            }
        }
    }
}

package cgw.backup;

import cgw.barrier.Snapshot;
import cgw.store.BlockStore;
import cgw.store.EpochHold;
import cgw.store.Extent;
import cgw.store.ExtentType;
import cgw.store.Volume;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import org.roaringbitmap.longlong.LongIterator;
import org.roaringbitmap.longlong.Roaring64Bitmap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exports a group snapshot into a repository. A full export walks each volume's allocation map
 * ({@link BlockStore#extents}) and reads only chunks holding data; an incremental one starts from
 * the parent's manifest and re-reads only the chunks holding blocks the store's dirty index says
 * changed since the parent's epoch ({@link BlockStore#changedBlocks}), never scanning a volume.
 * Each distinct chunk is stored once; chunks go to the target before the manifest that names
 * them, so a failed or cancelled export leaves no manifest, and a rerun finds its chunks there.
 * One job thread plans and reads the allocation map; a {@link ChunkWorkers} pool reads, hashes,
 * compresses and writes chunks. Never writes to the store.
 */
public final class Exporter {
    private static final Logger LOG = LoggerFactory.getLogger(Exporter.class);
    /** Chunks whose extents are asked for at once: bounds the allocation map held in memory. */
    static final int WINDOW_CHUNKS = 256;

    private final BlockStore store;
    private final Repository repository;
    private final JobOptions options;
    private final String sourceGateway;
    private final int chunkSizeBytes;
    private final byte[] zeros;
    private final ThreadLocal<byte[]> buffers;

    public Exporter(BlockStore store, Repository repository, JobOptions options, String sourceGateway) {
        this.store = store;
        this.repository = repository;
        this.options = options;
        this.sourceGateway = sourceGateway;
        this.chunkSizeBytes = repository.chunkSizeBytes();
        if (chunkSizeBytes % store.blockSizeBytes() != 0) {
            throw new BackupException("the repository's chunk size " + chunkSizeBytes
                    + " is not a multiple of the store's block size " + store.blockSizeBytes());
        }
        this.zeros = new byte[chunkSizeBytes];
        this.buffers = ThreadLocal.withInitial(() -> new byte[chunkSizeBytes]);
    }

    /** One volume's work: where it reads, and the chunk list it starts from. */
    private record Plan(Snapshot.Member member, Volume volume, long sizeBytes,
            NavigableMap<Long, ChunkId> chunks, Roaring64Bitmap changedChunks) {
        boolean full() {
            return changedChunks == null;
        }

        long bytesToExamine(int chunkSizeBytes) {
            return full() ? sizeBytes : changedChunks.getLongCardinality() * chunkSizeBytes;
        }
    }

    /** Counters the workers add to. */
    private static final class Counters {
        final AtomicLong bytesRead = new AtomicLong();
        final AtomicLong chunksWritten = new AtomicLong();
        final AtomicLong chunksReused = new AtomicLong();
        final AtomicLong zeroChunks = new AtomicLong();
        final AtomicLong bytesWritten = new AtomicLong();
        final Set<ChunkId> seen = ConcurrentHashMap.newKeySet();
    }

    /**
     * Exports {@code snapshot}; in full when {@code parent} is null, else incrementally from it:
     * the parent must still be retained on this gateway and already be in the repository.
     */
    public ExportResult export(Snapshot snapshot, Snapshot parent) {
        long start = System.nanoTime();
        if (repository.hasSnapshot(snapshot.id())) {
            throw new SnapshotExistsException("snapshot " + snapshot.id() + " is already in " + repository.describe());
        }
        if (parent != null && parent.id() >= snapshot.id()) {
            throw new IllegalArgumentException(
                    "incremental base " + parent.id() + " is not older than snapshot " + snapshot.id());
        }
        Manifest base = null;
        if (parent != null) {
            try {
                base = repository.readManifest(parent.id());
            } catch (SnapshotNotFoundException e) {
                throw new SnapshotNotFoundException("incremental base snapshot " + parent.id() + " is not in "
                        + repository.describe() + "; export it first, or export in full");
            }
            checkBase(base, parent, repository.describe());
        }
        List<EpochHold> holds = new ArrayList<>();
        try (RepositoryLock lock = repository.lock(false, "export of snapshot " + snapshot.id())) {
            List<Plan> plans = new ArrayList<>();
            for (Snapshot.Member member : snapshot.members()) {
                Plan plan = plan(member, parent, base);
                // the snapshot cannot be deleted from under the export: its epochs are held to the end
                holds.add(store.hold(plan.volume(), member.epoch()));
                plans.add(plan);
            }
            long bytesTotal = plans.stream().mapToLong(p -> p.bytesToExamine(chunkSizeBytes)).sum();
            Counters counters = new Counters();
            try (ChunkWorkers workers = new ChunkWorkers("export", options, bytesTotal)) {
                for (Plan plan : plans) {
                    if (plan.full()) {
                        exportFull(plan, workers, counters, lock);
                    } else {
                        exportChanged(plan, workers, counters, lock);
                    }
                }
                workers.awaitAll();
            } catch (RuntimeException | Error e) {
                keepChunksWritten(e);
                throw e;
            }
            Manifest manifest = manifest(snapshot, parent, plans);
            long manifestBytes = repository.writeManifest(manifest);
            ExportResult result = new ExportResult(snapshot.id(), parent == null ? 0 : parent.id(),
                    counters.bytesRead.get(), counters.chunksWritten.get(), counters.chunksReused.get(),
                    counters.zeroChunks.get(), counters.bytesWritten.get() + manifestBytes, manifestBytes,
                    System.nanoTime() - start);
            LOG.info("exported snapshot {} to {}: {}", snapshot.id(), repository.describe(), result);
            return result;
        } finally {
            holds.forEach(EpochHold::close);
        }
    }

    /**
     * After a failed or cancelled export: makes the chunks it wrote visible and durable, so that
     * a rerun finds them. The workers have stopped (the pool is closed) by then.
     */
    private void keepChunksWritten(Throwable failure) {
        try {
            repository.syncChunks();
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    private Plan plan(Snapshot.Member member, Snapshot parent, Manifest base) {
        Volume volume = store.volume(member.volume());
        if (volume.id() != member.volumeId()) {
            throw new BackupException(
                    "volume " + member.volume() + " was deleted and created again since the snapshot");
        }
        long sizeBytes = store.sizeBytes(volume, member.epoch());
        NavigableMap<Long, ChunkId> chunks = new ConcurrentSkipListMap<>();
        Snapshot.Member parentMember = parent == null ? null : parent.member(member.volumeId()).orElse(null);
        Manifest.VolumeEntry parentEntry = base == null
                ? null
                : base.volumes().stream()
                        .filter(v -> v.volumeId() == member.volumeId() && v.chunkSizeBytes() == chunkSizeBytes)
                        .findFirst().orElse(null);
        if (parentMember == null || parentEntry == null) {
            return new Plan(member, volume, sizeBytes, chunks, null);
        }
        for (Manifest.ChunkRef ref : parentEntry.chunks()) {
            chunks.put(ref.index(), ref.id());
        }
        Roaring64Bitmap changed = new Roaring64Bitmap();
        int blocksPerChunk = chunkSizeBytes / store.blockSizeBytes();
        Roaring64Bitmap blocks = store.changedBlocks(volume, parentMember.epoch(), member.epoch());
        for (LongIterator it = blocks.getLongIterator(); it.hasNext();) {
            changed.addLong(it.next() / blocksPerChunk);
        }
        if (parentEntry.sizeBytes() != sizeBytes && parentEntry.sizeBytes() % chunkSizeBytes != 0) {
            // the parent's last chunk was short; in the grown volume it is a whole chunk
            changed.addLong(parentEntry.sizeBytes() / chunkSizeBytes);
        }
        return new Plan(member, volume, sizeBytes, chunks, changed);
    }

    /** Every chunk holding data, window by window of the allocation map. */
    private void exportFull(Plan plan, ChunkWorkers workers, Counters counters, RepositoryLock lock) {
        long chunkCount = chunkCount(plan.sizeBytes());
        for (long first = 0; first < chunkCount; first += WINDOW_CHUNKS) {
            long last = Math.min(chunkCount, first + WINDOW_CHUNKS);
            long from = first * chunkSizeBytes;
            long to = Math.min(plan.sizeBytes(), last * chunkSizeBytes);
            List<Extent> extents = store.extents(plan.volume(), plan.member().epoch(), from, to - from);
            int e = 0;
            for (long index = first; index < last; index++) {
                long chunkStart = index * chunkSizeBytes;
                long chunkEnd = Math.min(plan.sizeBytes(), chunkStart + chunkSizeBytes);
                while (e < extents.size() && extents.get(e).end() <= chunkStart) {
                    e++;
                }
                boolean data = false;
                for (int i = e; i < extents.size() && extents.get(i).offset() < chunkEnd; i++) {
                    data |= extents.get(i).type() == ExtentType.DATA;
                }
                if (data) {
                    submit(plan, index, workers, counters);
                } else {
                    workers.bytesDone.addAndGet(chunkEnd - chunkStart);
                }
            }
            lock.refreshIfDue();
        }
    }

    /** The chunks holding changed blocks, on top of the parent's chunk list. */
    private void exportChanged(Plan plan, ChunkWorkers workers, Counters counters, RepositoryLock lock) {
        long n = 0;
        for (LongIterator it = plan.changedChunks().getLongIterator(); it.hasNext();) {
            submit(plan, it.next(), workers, counters);
            if (++n % WINDOW_CHUNKS == 0) {
                lock.refreshIfDue();
            }
        }
    }

    private void submit(Plan plan, long index, ChunkWorkers workers, Counters counters) {
        long offset = index * chunkSizeBytes;
        int length = (int) Math.min(chunkSizeBytes, plan.sizeBytes() - offset);
        workers.submit(length, () -> {
            byte[] buffer = buffers.get();
            store.read(plan.volume(), plan.member().epoch(), offset, ByteBuffer.wrap(buffer, 0, length));
            counters.bytesRead.addAndGet(length);
            if (Arrays.mismatch(buffer, 0, length, zeros, 0, length) == -1) {
                counters.zeroChunks.incrementAndGet();
                plan.chunks().remove(index);
            } else {
                ChunkId id = repository.chunkId(buffer, 0, length);
                if (counters.seen.add(id) && !repository.hasChunk(id)) {
                    counters.bytesWritten.addAndGet(repository.putChunk(id, buffer, 0, length, options.zstdLevel()));
                    counters.chunksWritten.incrementAndGet();
                } else {
                    counters.chunksReused.incrementAndGet();
                }
                plan.chunks().put(index, id);
            }
            workers.bytesDone.addAndGet(length);
        });
    }

    /**
     * Checks that {@code base}, read from a repository under {@code parent}'s id, is the manifest
     * of {@code parent}: taken at the same moment, of the same volumes at the same epochs. Ids
     * alone are not enough: two gateways, or one whose store was replaced, number snapshots alike.
     *
     * @throws BaseMismatchException when it describes another snapshot
     */
    public static void checkBase(Manifest base, Snapshot parent, String repository) {
        List<String> ours = parent.members().stream()
                .map(m -> m.volume() + " (id " + m.volumeId() + ", epoch " + m.epoch() + ")").sorted().toList();
        List<String> theirs = base.volumes().stream()
                .map(v -> v.name() + " (id " + v.volumeId() + ", epoch " + v.epoch() + ")").sorted().toList();
        if (base.createdAtMillis() != parent.createdAtMillis() || !ours.equals(theirs)) {
            throw new BaseMismatchException("snapshot " + parent.id() + " in " + repository + " is not this gateway's"
                    + " snapshot " + parent.id() + ": it was taken at " + base.createdAtMillis() + " of " + theirs
                    + " by " + base.sourceGateway() + ", ours at " + parent.createdAtMillis() + " of " + ours
                    + "; export in full, or into another repository");
        }
    }

    private Manifest manifest(Snapshot snapshot, Snapshot parent, List<Plan> plans) {
        List<Manifest.VolumeEntry> volumes = new ArrayList<>();
        for (Plan plan : plans) {
            long limit = chunkCount(plan.sizeBytes());
            List<Manifest.ChunkRef> refs = new ArrayList<>(plan.chunks().size());
            for (Map.Entry<Long, ChunkId> e : plan.chunks().headMap(limit).entrySet()) {
                refs.add(new Manifest.ChunkRef(e.getKey(), e.getValue()));
            }
            volumes.add(
                    new Manifest.VolumeEntry(plan.member().volume(), plan.member().volumeId(), plan.member().epoch(),
                            plan.sizeBytes(), chunkSizeBytes, refs));
        }
        return new Manifest(snapshot.id(), snapshot.group(), snapshot.label(), snapshot.createdAtMillis(),
                snapshot.freezeMicros(), sourceGateway, System.currentTimeMillis(), parent == null ? 0 : parent.id(),
                volumes);
    }

    private long chunkCount(long sizeBytes) {
        return (sizeBytes + chunkSizeBytes - 1) / chunkSizeBytes;
    }
}

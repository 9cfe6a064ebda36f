package cgw.nbd.export;

import cgw.store.BlockStore;
import cgw.store.EpochHold;
import cgw.store.EpochNotRetainedException;
import cgw.store.Extent;
import cgw.store.Volume;
import cgw.store.VolumeInfo;
import cgw.store.VolumeNotFoundException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.LongConsumer;
import java.util.function.LongFunction;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exports every volume of a {@link BlockStore}: {@code VOLUME} is the writable head,
 * {@code VOLUME@SNAPSHOT} a read-only epoch named through {@link SnapshotNames}. Store calls that
 * may wait run on the given executor, never on the caller's thread (an event loop); only
 * {@link BlockStore#readNoWait}, which never waits, runs on the caller's.
 *
 * <p>Threads: any. Counts open connections per volume, so that deleting a volume can be refused
 * while it is attached, and holds the epoch of every snapshot export open ({@link BlockStore#hold}).
 */
public final class StoreExports implements ExportRegistry {
    private static final Logger log = LoggerFactory.getLogger(StoreExports.class);
    /** A {@code CACHE} request reads ahead at most this much. */
    static final long MAX_CACHE_BYTES = 64L << 20;
    private static final int CACHE_CHUNK_BYTES = 1 << 20;

    /**
     * Reads longer than a block that one connection has at the store threads at a time; while
     * that many are there, its next reads are served on the caller's thread when they need no
     * waiting (see {@link StoreExport#read}).
     */
    static final int LONG_READS_AWAY = 1;
    /**
     * Writes longer than a block that one connection has at the store threads at a time; while
     * that many are there, its next ones are done on the caller's thread when they need no
     * waiting (see {@link StoreExport#write}).
     */
    static final int LONG_WRITES_AWAY = 1;
    /**
     * A write done on the caller's thread that took longer than this waited for something
     * {@link BlockStore#writeNoWait} cannot see (a memory cgroup's dirty limit, a file system
     * journal): no write runs there for {@link #NO_WAIT_WRITE_PAUSE_NANOS} after it.
     */
    static final long SLOW_NO_WAIT_WRITE_NANOS = 5_000_000;
    static final long NO_WAIT_WRITE_PAUSE_NANOS = 1_000_000_000;
    /** Resolving a volume's own name again after its view moved on, at most this many times. */
    private static final int VIEW_MOVED_RETRIES = 3;

    private final BlockStore store;
    private final Executor executor;
    private final SnapshotNames snapshots;
    private final Function<Volume, IoGate> gates;
    private final HeadViews heads;
    private final Map<String, AtomicInteger> openByVolume = new ConcurrentHashMap<>();
    /** No write runs on a caller's thread before this {@link System#nanoTime}; see {@link #SLOW_NO_WAIT_WRITE_NANOS}. */
    private volatile long noWaitWritesFrom = System.nanoTime();

    public StoreExports(BlockStore store, Executor executor, SnapshotNames snapshots) {
        this(store, executor, snapshots, volume -> IoGate.OPEN);
    }

    /** {@code gates}: the gate each volume's head I/O goes through (the group barrier's). */
    public StoreExports(BlockStore store, Executor executor, SnapshotNames snapshots, Function<Volume, IoGate> gates) {
        this(store, executor, snapshots, gates, HeadViews.HEADS);
    }

    /** {@code heads}: what {@code VOLUME} shows of each volume (a replica's newest complete epoch). */
    public StoreExports(BlockStore store, Executor executor, SnapshotNames snapshots, Function<Volume, IoGate> gates,
            HeadViews heads) {
        this.store = store;
        this.executor = executor;
        this.snapshots = snapshots;
        this.gates = gates;
        this.heads = heads;
    }

    @Override
    public @Nullable ExportInfo find(String name) {
        for (int attempt = 0;; attempt++) {
            Target target = resolve(name);
            if (target == null) {
                return null;
            }
            try {
                return info(name, target);
            } catch (EpochNotRetainedException e) {
                if (!movedOn(name, attempt)) {
                    return null;
                }
            }
        }
    }

    @Override
    public List<ExportInfo> list() {
        List<ExportInfo> exports = new ArrayList<>();
        for (VolumeInfo volume : store.volumes()) {
            ExportInfo info = find(volume.name());
            if (info != null) {
                exports.add(info);
            }
        }
        return exports;
    }

    @Override
    public Export open(String name) {
        for (int attempt = 0;; attempt++) {
            Target target = resolve(name);
            if (target == null) {
                throw new ExportNotFoundException("no export named " + name);
            }
            try {
                ExportInfo info = info(name, target);
                // a snapshot's epoch stays retained while a connection reads it: deleting the snapshot is refused meanwhile
                EpochHold hold = target.followsHead() ? null : store.hold(target.volume, target.epoch);
                openByVolume.computeIfAbsent(target.volume.name(), v -> new AtomicInteger()).incrementAndGet();
                return new StoreExport(info, target, hold);
            } catch (EpochNotRetainedException e) {
                if (!movedOn(name, attempt)) {
                    throw new ExportNotFoundException("no export named " + name + " (its snapshot was just deleted)");
                }
            }
        }
    }

    /**
     * Whether {@code name}, whose epoch was retired between resolving it and using it, is worth
     * resolving again: a volume's own name on a replica shows its newest complete epoch, which
     * has just moved on; a named snapshot is gone.
     */
    private static boolean movedOn(String name, int attempt) {
        return name.indexOf('@') < 0 && attempt < VIEW_MOVED_RETRIES;
    }

    /** NBD connections open on a volume now (head and snapshot exports). */
    public int openConnections(String volume) {
        AtomicInteger count = openByVolume.get(volume);
        return count == null ? 0 : count.get();
    }

    private ExportInfo info(String name, Target target) {
        long size = store.sizeBytes(target.volume, target.followsHead() ? target.volume.headEpoch() : target.epoch);
        return new ExportInfo(name, size, !target.followsHead(), description(target.volume.name(), target.epoch));
    }

    private static String description(String volume, long epoch) {
        return epoch == BlockStore.HEAD
                ? "cgw volume " + volume
                : "cgw volume " + volume + " at epoch " + epoch + " (read-only)";
    }

    /**
     * Resolves {@code cgw:changed-since:SNAPSHOT} for an export: the snapshot must hold the
     * export's volume at an epoch no newer than the export's, or hold a volume up its clone chain
     * at an epoch no newer than the one the chain was cloned from.
     */
    @Override
    public ChangedSince changedSince(String name, String snapshot) {
        Target target = resolve(name);
        if (target == null) {
            throw new MetaContextRefusedException("no export named '" + name + "'");
        }
        List<ChangedSince.Span> spans = new ArrayList<>();
        Volume volume = target.volume;
        long to = target.epoch;
        for (int depth = 0; depth <= BlockStore.MAX_CLONE_DEPTH; depth++) {
            OptionalLong from = epochOf(volume, snapshot);
            if (from.isPresent()) {
                if (to != BlockStore.HEAD && from.getAsLong() > to) {
                    throw new MetaContextRefusedException(depth == 0
                            ? "snapshot " + snapshot + " is newer than export '" + name
                                    + "': changes are reported since an older snapshot"
                            : "snapshot " + snapshot + " of " + volume.name() + " was taken after "
                                    + target.volume.name() + " was cloned from it");
                }
                if (from.getAsLong() != to) {
                    spans.add(new ChangedSince.Span(volume, from.getAsLong(), to));
                }
                return new ChangedSince(snapshot, spans);
            }
            spans.add(new ChangedSince.Span(volume, 0, to));
            VolumeInfo info = store.info(volume);
            String parent = info.parent();
            if (parent == null) {
                break;
            }
            try {
                volume = store.volume(parent);
            } catch (VolumeNotFoundException e) {
                break;
            }
            to = info.parentEpoch();
        }
        throw new MetaContextRefusedException(snapshots.exists(snapshot)
                ? "snapshot " + snapshot + " does not hold volume " + target.volume.name()
                        + " or a volume it was cloned from"
                : "no snapshot " + snapshot + " on this gateway");
    }

    private OptionalLong epochOf(Volume volume, String snapshot) {
        try {
            return snapshots.epochOf(volume, snapshot);
        } catch (VolumeNotFoundException | EpochNotRetainedException e) {
            return OptionalLong.empty();
        }
    }

    /** The volume and epoch ({@link BlockStore#HEAD}: the head) an export name stands for, or null. */
    private @Nullable Target resolve(String name) {
        int separator = name.indexOf('@');
        String volumeName = separator < 0 ? name : name.substring(0, separator);
        Volume volume;
        try {
            volume = store.volume(volumeName);
        } catch (VolumeNotFoundException e) {
            return null;
        }
        if (separator < 0) {
            long shown = heads.epoch(volume);
            return shown == HeadViews.NONE ? null : new Target(volume, shown);
        }
        try {
            OptionalLong epoch = snapshots.epochOf(volume, name.substring(separator + 1));
            return epoch.isPresent() ? new Target(volume, epoch.getAsLong()) : null;
        } catch (VolumeNotFoundException | EpochNotRetainedException e) {
            return null;
        }
    }

    /** {@code epoch}: a retained epoch, or {@link BlockStore#HEAD} for the writable head. */
    private record Target(Volume volume, long epoch) {
        boolean followsHead() {
            return epoch == BlockStore.HEAD;
        }
    }

    /** One connection's view of a target: the head, or one retained epoch. */
    private final class StoreExport implements Export {
        private final ExportInfo info;
        private final Volume volume;
        private final long epoch;
        private final @Nullable EpochHold hold;
        private final IoGate gate;
        /** This connection's reads longer than a block at the store threads now. */
        private final AtomicInteger longReadsAway = new AtomicInteger();
        /** This connection's writes longer than a block at the store threads now. */
        private final AtomicInteger longWritesAway = new AtomicInteger();

        StoreExport(ExportInfo info, Target target, @Nullable EpochHold hold) {
            this.info = info;
            this.hold = hold;
            this.volume = target.volume;
            this.epoch = target.epoch;
            this.gate = target.followsHead() ? gates.apply(volume) : IoGate.OPEN;
        }

        @Override
        public ExportInfo info() {
            return info;
        }

        /**
         * A read of the head that needs no waiting (its pointers cached, its blocks in few runs,
         * their bytes in the page cache: {@link BlockStore#readNoWait}) may run on the caller's
         * thread and return completed; everything else runs on the executor. A one-block read
         * always tries: a small random read then costs no hand-off to a store thread and back.
         * A longer one tries only while another long read of this connection is at the store
         * threads ({@link #LONG_READS_AWAY}): served on the caller's thread, an event loop, a read
         * costs no hand-off and its reply is sent while its bytes are still in the CPU's cache,
         * but one event loop serves its connection's reads one after another, so a stream of
         * long reads all served there is bound to one core; one read at a store thread beside
         * the loop uses both.
         */
        @Override
        public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
            if (epoch != BlockStore.HEAD) {
                return run(() -> store.read(volume, epoch, offset, dst));
            }
            return gate.submit(false, readEpoch -> {
                boolean longRead = dst.remaining() > store.blockSizeBytes();
                if ((!longRead || longReadsAway.get() >= LONG_READS_AWAY) && store.readNoWait(volume, offset, dst)) {
                    return CompletableFuture.completedFuture(null);
                }
                if (!longRead) {
                    return CompletableFuture.runAsync(() -> store.read(volume, offset, dst), executor);
                }
                return away(longReadsAway, () -> store.read(volume, offset, dst));
            });
        }

        /**
         * The write analogue of {@link #read}: a write longer than a block, while another long
         * write of this connection is at the store threads ({@link #LONG_WRITES_AWAY}), is done on
         * the caller's thread and returned completed when it needs no waiting
         * ({@link BlockStore#writeNoWait}: an overwrite in place of a sequential rewrite, with room
         * in the page cache). An event loop then takes the next payloads off the socket while one
         * write is copied at a store thread, instead of handing every write off and leaving the
         * host idle between them. A write with FUA waits for the disk and is always handed off.
         */
        @Override
        public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
            if (fua || src.remaining() <= store.blockSizeBytes()) {
                return mutate(fua, writeEpoch -> store.write(volume, writeEpoch, offset, src));
            }
            return startChange(writeEpoch -> {
                if (longWritesAway.get() >= LONG_WRITES_AWAY) {
                    try {
                        if (writeNoWait(writeEpoch, offset, src)) {
                            return CompletableFuture.completedFuture(null);
                        }
                    } catch (RuntimeException e) { // failed on the caller's thread: answered as if away
                        return CompletableFuture.failedFuture(e);
                    }
                }
                return away(longWritesAway, () -> store.write(volume, writeEpoch, offset, src));
            });
        }

        /** Runs {@code task} on the executor, counted in {@code away} until it is done. */
        private CompletableFuture<Void> away(AtomicInteger away, Runnable task) {
            away.incrementAndGet();
            try {
                return CompletableFuture.runAsync(() -> {
                    try {
                        task.run();
                    } finally {
                        away.decrementAndGet();
                    }
                }, executor);
            } catch (RuntimeException e) { // not taken: it will not come back to count itself out
                away.decrementAndGet();
                throw e;
            }
        }

        /** {@link BlockStore#writeNoWait}, unless one took too long lately; a slow one pauses them. */
        private boolean writeNoWait(long writeEpoch, long offset, ByteBuffer src) {
            long start = System.nanoTime();
            if (start - noWaitWritesFrom < 0) {
                return false;
            }
            boolean done = store.writeNoWait(volume, writeEpoch, offset, src);
            long took = System.nanoTime() - start;
            if (took > SLOW_NO_WAIT_WRITE_NANOS) {
                noWaitWritesFrom = System.nanoTime() + NO_WAIT_WRITE_PAUSE_NANOS;
                log.debug(
                        "{}: a write on the NBD event loop took {} ms; writes go to the store threads for the next {} ms",
                        info.name(), took / 1_000_000, NO_WAIT_WRITE_PAUSE_NANOS / 1_000_000);
            }
            return done;
        }

        @Override
        public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua, boolean mayTrim) {
            return mutate(fua, writeEpoch -> {
                if (mayTrim) {
                    store.trim(volume, writeEpoch, offset, length);
                } else {
                    store.writeZeroes(volume, writeEpoch, offset, length);
                }
            });
        }

        @Override
        public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
            return mutate(fua, writeEpoch -> store.trim(volume, writeEpoch, offset, length));
        }

        @Override
        public CompletableFuture<Void> flush() {
            return run(store::flush);
        }

        @Override
        public CompletableFuture<Void> cache(long offset, long length) {
            return run(() -> {
                long end = offset + Math.min(length, MAX_CACHE_BYTES);
                ByteBuffer scratch = ByteBuffer
                        .allocateDirect((int) Math.min(CACHE_CHUNK_BYTES, Math.max(1, end - offset)));
                for (long offsetBytes = offset; offsetBytes < end; offsetBytes += scratch.capacity()) {
                    scratch.clear().limit((int) Math.min(scratch.capacity(), end - offsetBytes));
                    store.read(volume, epoch, offsetBytes, scratch);
                }
            });
        }

        @Override
        public CompletableFuture<List<Extent>> extents(long offset, long length) {
            return gate.submit(false, readEpoch -> CompletableFuture.supplyAsync(
                    () -> store.extents(volume, epoch, offset, length), executor));
        }

        @Override
        public CompletableFuture<List<ChangeRun>> changes(ChangedSince since, long offset, long length) {
            return gate.submit(false, readEpoch -> CompletableFuture.supplyAsync(
                    () -> ChangeRuns.of(store, since, offset, length), executor));
        }

        @Override
        public void close() {
            AtomicInteger count = openByVolume.get(volume.name());
            if (count != null) {
                count.decrementAndGet();
            }
            if (hold != null) {
                hold.close();
            }
        }

        /** A change at the epoch the gate admits it in, durable before its reply with {@code fua}. */
        private CompletableFuture<Void> mutate(boolean fua, LongConsumer change) {
            return startChange(writeEpoch -> CompletableFuture.runAsync(() -> {
                change.accept(writeEpoch);
                if (fua) {
                    store.flush();
                }
            }, executor));
        }

        /** Starts a change through the gate, given the epoch it is admitted in; refused on a read-only export. */
        private CompletableFuture<Void> startChange(LongFunction<CompletableFuture<Void>> start) {
            if (info.readOnly()) {
                return CompletableFuture.failedFuture(new ReadOnlyExportException(info.name() + " is read-only"));
            }
            return gate.submit(true, start);
        }

        /** Anything but a change: through the gate too, since its reply may have to wait for a barrier. */
        private CompletableFuture<Void> run(Runnable task) {
            return gate.submit(false, readEpoch -> CompletableFuture.runAsync(task, executor));
        }
    }
}

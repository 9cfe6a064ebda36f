package cgw.tools.metrics;

import cgw.nbd.export.ChangeRun;
import cgw.nbd.export.ChangedSince;
import cgw.nbd.export.Export;
import cgw.nbd.export.ExportInfo;
import cgw.nbd.export.ExportNotFoundException;
import cgw.nbd.export.ExportRegistry;
import cgw.nbd.wire.Command;
import cgw.store.BlockStore;
import cgw.store.Extent;
import cgw.store.Volume;
import cgw.store.VolumeInfo;
import cgw.store.VolumeNotFoundException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * An {@link ExportRegistry} that measures the I/O of another, per volume: requests and their
 * latency by operation, failed requests, bytes read and written, and the connections open. Like an
 * nbdkit filter it changes nothing: every call goes on to the wrapped registry, and each
 * operation's future is handed back behind one completion step that records it.
 *
 * <p>Hot path: a volume's meters are resolved when a connection opens the export, so a request
 * costs two clock reads and a few atomic adds, with no map lookup and no tags built. Threads:
 * any; requests start on the NBD event loops and complete on the store's threads. The meters of a
 * volume name are registered and removed only inside {@code byVolume.compute} on that name, so a
 * volume deleted and made again under the same name starts from zero.
 */
final class MeteredExports implements ExportRegistry {
    /** The export operations, each one {@code op} tag; DISC and UNKNOWN never reach an export. */
    private static final List<Command> OPERATIONS = List.of(Command.READ, Command.WRITE, Command.WRITE_ZEROES,
            Command.TRIM, Command.FLUSH, Command.CACHE, Command.BLOCK_STATUS);
    /** Bucket bounds of the request latency histograms, 50 µs to 1 s: cached reads to a stalled disk. */
    private static final Duration[] LATENCY_BUCKETS = Buckets.between(50_000, 1_000_000_000);

    private final ExportRegistry exports;
    private final BlockStore store;
    private final MeterRegistry registry;
    private final ConcurrentHashMap<String, VolumeMeters> byVolume = new ConcurrentHashMap<>();
    private final AtomicInteger openExports = new AtomicInteger();

    MeteredExports(ExportRegistry exports, BlockStore store, MeterRegistry registry) {
        this.exports = exports;
        this.store = store;
        this.registry = registry;
        Gauge.builder("cgw.nbd.connections", openExports::get)
                .description("NBD connections in the transmission phase (an export open)")
                .register(registry);
    }

    @Override
    public ExportInfo find(String name) {
        return exports.find(name);
    }

    @Override
    public List<ExportInfo> list() {
        return exports.list();
    }

    @Override
    public ChangedSince changedSince(String name, String snapshot) {
        return exports.changedSince(name, snapshot);
    }

    /** Opens the export and resolves its volume's meters (made on the volume's first open). */
    @Override
    public Export open(String name) {
        Export export = exports.open(name);
        try {
            int at = name.indexOf('@'); // VOLUME@SNAPSHOT counts as VOLUME, as StoreExports names it
            Volume volume = store.volume(at < 0 ? name : name.substring(0, at));
            VolumeMeters meters = byVolume.compute(volume.name(), (volumeName, known) -> {
                if (known != null && known.volumeId == volume.id()) {
                    return known;
                }
                if (known != null) {
                    known.remove();
                }
                return new VolumeMeters(volume);
            });
            openExports.incrementAndGet();
            return new MeteredExport(export, meters);
        } catch (VolumeNotFoundException e) {
            export.close();
            throw new ExportNotFoundException("no export named " + name + ": " + e.getMessage());
        } catch (RuntimeException e) {
            export.close();
            throw e;
        }
    }

    /**
     * Removes the meters of the volumes deleted since they were made, so that deleted volumes do
     * not stay in every scrape. Called before each scrape; the meters are listed before the
     * volumes, so a volume made meanwhile is never taken for a deleted one.
     */
    void forgetDeletedVolumes() {
        List<VolumeMeters> known = List.copyOf(byVolume.values());
        Set<Long> live = store.volumes().stream().map(VolumeInfo::id).collect(Collectors.toSet());
        for (VolumeMeters meters : known) {
            if (!live.contains(meters.volumeId)) {
                byVolume.computeIfPresent(meters.volume, (volumeName, current) -> {
                    if (current != meters) {
                        return current;
                    }
                    meters.remove();
                    return null;
                });
            }
        }
    }

    /** The meters of one volume, registered together and removed together. */
    private final class VolumeMeters {
        final String volume;
        final long volumeId;
        final OpMeters[] byCommand = new OpMeters[Command.values().length];
        final List<Meter> meters = new ArrayList<>();

        VolumeMeters(Volume volume) {
            this.volume = volume.name();
            this.volumeId = volume.id();
            for (Command command : OPERATIONS) {
                Tags tags = Tags.of("volume", volume.name(), "op", command.name().toLowerCase(Locale.ROOT));
                Timer latency = add(Timer.builder("cgw.nbd.request.duration")
                        .description("NBD requests from the call to the export to its completion; _count is the "
                                + "number of requests")
                        .tags(tags).serviceLevelObjectives(LATENCY_BUCKETS).register(registry));
                Counter errors = add(Counter.builder("cgw.nbd.request.errors")
                        .description("NBD requests whose export operation failed")
                        .tags(tags).register(registry));
                Counter bytes = command == Command.READ || command == Command.WRITE
                        ? add(Counter.builder("cgw.nbd.bytes").baseUnit("bytes")
                                .description("Bytes read and written by NBD requests that succeeded")
                                .tags(tags).register(registry))
                        : null;
                byCommand[command.ordinal()] = new OpMeters(latency, errors, bytes);
            }
        }

        private <M extends Meter> M add(M meter) {
            meters.add(meter);
            return meter;
        }

        /** An array read: no lookup on the request path. */
        OpMeters of(Command command) {
            return byCommand[command.ordinal()];
        }

        void remove() {
            meters.forEach(registry::remove);
        }
    }

    /** The meters of one operation on one volume. */
    private record OpMeters(Timer latency, Counter errors, Counter bytes) {
        /**
         * A future that completes as {@code done} does (a failure wrapped in a
         * {@code CompletionException}, as the store's own futures are), once the request is
         * recorded: whoever sees the reply sees it counted. Callers pass {@code System.nanoTime()}
         * first: arguments are evaluated left to right, so the clock is read before the export's
         * call that makes {@code done}.
         */
        <T> CompletableFuture<T> record(long startNanos, long lengthBytes, CompletableFuture<T> done) {
            return done.whenComplete((result, failure) -> {
                latency.record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
                if (failure != null) {
                    errors.increment();
                } else if (bytes != null) {
                    bytes.increment(lengthBytes);
                }
            });
        }
    }

    /** One connection's export, measured into its volume's meters. */
    private final class MeteredExport implements Export {
        private final Export export;
        private final VolumeMeters meters;

        MeteredExport(Export export, VolumeMeters meters) {
            this.export = export;
            this.meters = meters;
        }

        @Override
        public ExportInfo info() {
            return export.info();
        }

        @Override
        public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
            return meters.of(Command.READ).record(System.nanoTime(), dst.remaining(), export.read(offset, dst));
        }

        @Override
        public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
            return meters.of(Command.WRITE).record(System.nanoTime(), src.remaining(), export.write(offset, src, fua));
        }

        @Override
        public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua, boolean mayTrim) {
            return meters.of(Command.WRITE_ZEROES).record(System.nanoTime(), length,
                    export.writeZeroes(offset, length, fua, mayTrim));
        }

        @Override
        public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
            return meters.of(Command.TRIM).record(System.nanoTime(), length, export.trim(offset, length, fua));
        }

        @Override
        public CompletableFuture<Void> flush() {
            return meters.of(Command.FLUSH).record(System.nanoTime(), 0, export.flush());
        }

        @Override
        public CompletableFuture<Void> cache(long offset, long length) {
            return meters.of(Command.CACHE).record(System.nanoTime(), length, export.cache(offset, length));
        }

        @Override
        public CompletableFuture<List<Extent>> extents(long offset, long length) {
            return meters.of(Command.BLOCK_STATUS).record(System.nanoTime(), length,
                    export.extents(offset, length));
        }

        @Override
        public CompletableFuture<List<ChangeRun>> changes(ChangedSince since, long offset, long length) {
            return meters.of(Command.BLOCK_STATUS).record(System.nanoTime(), length,
                    export.changes(since, offset, length));
        }

        @Override
        public void close() {
            try {
                export.close();
            } finally {
                openExports.decrementAndGet();
            }
        }
    }
}

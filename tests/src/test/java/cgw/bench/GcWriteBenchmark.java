package cgw.bench;

import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * 4 KiB random write throughput while the background collector works, against the same run
 * without it. A snapshotter cuts the volume every {@code cutIntervalMs} and releases the epoch
 * it sealed the time before, so the writers' overwrites keep turning into garbage. With
 * {@code backgroundGc=true} the store's collector reclaims it at its production rate limit; with
 * {@code false} the releases pile up uncollected. bench/summarize.py pairs the two: the ratio is
 * what the collector costs the writers.
 *
 * <p>Threads: {@code -t 1} and {@code -t 8} writers, plus the snapshotter and the collector.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class GcWriteBenchmark {

    @Benchmark
    public void write4k(SnapshottedVolume target, RandomIo io) {
        long offset = io.nextOffset(target.sizeBytes);
        target.store.write(target.volume, offset, io.pattern.at(offset));
    }

    /** A new store with a filled volume and a snapshotter thread; deleted after the trial. */
    @State(Scope.Benchmark)
    public static class SnapshottedVolume extends StoreParams {
        @Param({"false", "true"})
        public boolean backgroundGc;

        @Param("1024")
        public int volumeMiB;

        @Param("1000")
        public int cutIntervalMs;

        private Path dir;
        private ScheduledExecutorService snapshotter;
        private ScheduledFuture<?> cuts;
        /** Touched by the snapshotter thread only. */
        private long previousSealed = -1;

        @Setup(Level.Trial)
        public void open() {
            dir = openFilled("gc-write", options().withBackgroundGc(backgroundGc), volumeMiB);
            snapshotter = Executors.newSingleThreadScheduledExecutor(runnable -> {
                Thread thread = new Thread(runnable, "bench-snapshotter");
                thread.setDaemon(true);
                return thread;
            });
            cuts = snapshotter.scheduleAtFixedRate(this::cutAndRelease, cutIntervalMs, cutIntervalMs,
                    TimeUnit.MILLISECONDS);
        }

        private void cutAndRelease() {
            long sealed = store.cut(volume);
            if (previousSealed >= 0) {
                store.release(volume, previousSealed);
            }
            previousSealed = sealed;
        }

        /** Stops the snapshotter first; a failed cut or release fails the trial. */
        @TearDown(Level.Trial)
        public void close() throws InterruptedException, ExecutionException {
            try {
                snapshotter.shutdown();
                if (!snapshotter.awaitTermination(1, TimeUnit.MINUTES)) {
                    throw new IllegalStateException("snapshotter did not stop");
                }
                if (cuts.isDone() && !cuts.isCancelled()) {
                    cuts.get();
                }
                System.out.printf("%n# cgw.bench: %d retained epochs, ~%d keys in the blocks family%n",
                        store.retainedEpochs(volume).size(), store.blocksProperty("rocksdb.estimate-num-keys"));
            } finally {
                close(dir);
            }
        }
    }
}

package cgw.bench;

import cgw.store.BlockStore;
import cgw.store.BlockStore.GcStats;
import java.nio.file.Path;
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
import org.openjdk.jmh.annotations.Threads;

/**
 * How fast the collector reclaims: each iteration overwrites a whole volume of
 * {@code overwrittenMiB} across a cut and releases the sealed epoch, leaving one dead version per
 * block, then times one {@link BlockStore#collectGarbage} pass (no rate limit). Its peer is
 * {@link #overwrite}, the single-threaded writer that made that garbage, timed the same way:
 * bench/summarize.py turns both into block versions per second, and a ratio above 1 means one
 * collector outpaces one writer that overwrites everything between snapshots.
 *
 * <p>Threads: one; the collector is one thread. Single-shot: one pass per iteration.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Threads(1)
public class GcReclaimBenchmark {

    /** One collector pass over a released epoch whose every block was overwritten. */
    @Benchmark
    public GcStats collect(Garbage volume) {
        return volume.stats = volume.store.collectGarbage();
    }

    /** The peer: overwriting the whole volume with 1 MiB writes right after a cut. */
    @Benchmark
    public void overwrite(Sealed volume) {
        PatternFill.volume(volume.store, volume.volume, volume.sizeBytes);
    }

    /** A new store, background collector off, its volume filled with the pattern; deleted after the trial. */
    public abstract static class GcVolume extends StoreParams {
        @Param("256")
        public int overwrittenMiB;

        private Path dir;

        @Setup(Level.Trial)
        public void open() {
            dir = openFilled("gc-reclaim", options().withBackgroundGc(false), overwrittenMiB);
        }

        @TearDown(Level.Trial)
        public void close() {
            close(dir);
        }

        /** Block versions one overwrite of the whole volume leaves behind. */
        long versionsPerOverwrite() {
            return sizeBytes / blockSizeBytes;
        }

        void checkCollected(GcStats stats) {
            if (stats == null || stats.versionsDeleted() != versionsPerOverwrite()) {
                throw new IllegalStateException("collector deleted " + (stats == null ? "nothing" : stats)
                        + ", expected " + versionsPerOverwrite() + " versions");
            }
        }
    }

    /** Before each iteration: cut, overwrite everything, release the sealed epoch. */
    @State(Scope.Benchmark)
    public static class Garbage extends GcVolume {
        GcStats stats;

        @Setup(Level.Iteration)
        public void makeGarbage() {
            long sealed = store.cut(volume);
            PatternFill.volume(store, volume, sizeBytes);
            store.release(volume, sealed);
        }

        @TearDown(Level.Iteration)
        public void check() {
            checkCollected(stats);
            stats = null;
        }
    }

    /** Before each iteration a cut; after it, the sealed epoch is released and collected untimed. */
    @State(Scope.Benchmark)
    public static class Sealed extends GcVolume {
        private long sealed;

        @Setup(Level.Iteration)
        public void seal() {
            sealed = store.cut(volume);
        }

        @TearDown(Level.Iteration)
        public void collect() {
            store.release(volume, sealed);
            checkCollected(store.collectGarbage());
        }
    }
}

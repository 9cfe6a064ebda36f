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
 * How fast the collector reclaims: each iteration overwrites {@code overwrittenPercent} of a
 * volume of {@code gcVolumeMiB} (its first part, with 1 MiB writes) across a cut and releases the
 * sealed epoch, leaving one dead version per overwritten block, then times one
 * {@link BlockStore#collectGarbage} pass (no rate limit). 100% is the collector's best case; 1% is
 * a snapshot rotation with a small delta, where a pass should cost what changed, not the volume.
 * Its peer is {@link #overwrite}, the single-threaded writer that made that garbage, timed the
 * same way: bench/summarize.py turns both into block versions per second, and a ratio above 1
 * means one collector outpaces one writer.
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

    /** The peer: the same overwrite with 1 MiB writes, right after a cut. */
    @Benchmark
    public void overwrite(Sealed volume) {
        volume.overwrite();
    }

    /** A new store, background collector off, its volume filled with the pattern; deleted after the trial. */
    public abstract static class GcVolume extends StoreParams {
        @Param("512")
        public int gcVolumeMiB;

        @Param({"100", "1"})
        public int overwrittenPercent;

        long overwrittenBytes;
        private Path dir;

        @Setup(Level.Trial)
        public void open() {
            // bench/summarize.py computes the same size to turn times into versions per second
            overwrittenBytes = ((long) gcVolumeMiB * overwrittenPercent / 100) << 20;
            if (overwrittenBytes == 0) {
                throw new IllegalArgumentException(overwrittenPercent + "% of " + gcVolumeMiB
                        + " MiB is less than the 1 MiB the pattern is written in");
            }
            dir = openFilled("gc-reclaim", options().withBackgroundGc(false), gcVolumeMiB);
        }

        @TearDown(Level.Trial)
        public void close() {
            close(dir);
        }

        /** Block versions one overwrite leaves behind. */
        long versionsPerOverwrite() {
            return overwrittenBytes / blockSizeBytes;
        }

        void overwrite() {
            PatternFill.volume(store, volume, overwrittenBytes);
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
            overwrite();
            store.release(volume, sealed);
        }

        @TearDown(Level.Iteration)
        public void check() {
            checkCollected(stats);
            System.out.printf("%n# cgw.bench: the pass examined %d versions to delete %d%n",
                    stats.versionsExamined(), stats.versionsDeleted());
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

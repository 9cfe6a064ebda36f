package cgw.bench;

import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import java.nio.file.Path;
import java.util.SplittableRandom;
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
 * Latency of {@link BlockStore#cut} on a volume with 1 GiB and with 16 GiB written: a cut must be
 * O(1) in the volume's size. Targets: median under 100 µs, and the 16 GiB median within 2x of the
 * 1 GiB one (that pair is each other's peer in bench/summarize.py). Before each cut one 4 KiB
 * block is written, so every cut seals an epoch that holds data, and the epoch sealed two cuts
 * earlier is released, as a backup chain that keeps its last snapshot would; the background
 * collector runs, as in production.
 *
 * <p>Threads: one; a cut is a catalog operation.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Threads(1)
public class CutBenchmark {

    @Benchmark
    public long cut(WrittenVolume target) {
        return target.sealed = target.store.cut(target.volume);
    }

    /** A new store with {@code writtenMiB} of the pattern written, deleted after the trial. */
    @State(Scope.Benchmark)
    public static class WrittenVolume {
        @Param({"1024", "16384"})
        public int writtenMiB;

        @Param({"true", "false"})
        public boolean backgroundGc;

        BlockStore store;
        Volume volume;
        long sealed = -1;
        private long kept = -1;
        private Path dir;
        private final DataPattern pattern = new DataPattern(RandomIo.IO_SIZE_BYTES);
        private final SplittableRandom random = new SplittableRandom(0xC07L);

        @Setup(Level.Trial)
        public void open() {
            dir = BenchSpace.scratch("cut");
            store = BlockStore.open(dir, StoreOptions.defaults().withBackgroundGc(backgroundGc));
            long sizeBytes = (long) writtenMiB << 20;
            volume = store.createVolume(StoreParams.VOLUME_NAME, sizeBytes);
            PatternFill.volumeReported(store, volume, sizeBytes);
        }

        /** Keeps the last sealed epoch, releases the one before it, and dirties one block. */
        @Setup(Level.Invocation)
        public void dirtyOneBlock() {
            if (sealed >= 0) {
                if (kept >= 0) {
                    store.release(volume, kept);
                }
                kept = sealed;
            }
            long offset = random.nextLong(volume.sizeBytes() / RandomIo.IO_SIZE_BYTES) * RandomIo.IO_SIZE_BYTES;
            store.write(volume, offset, pattern.at(offset));
        }

        @TearDown(Level.Trial)
        public void close() {
            store.close();
            BenchSpace.delete(dir);
        }
    }
}

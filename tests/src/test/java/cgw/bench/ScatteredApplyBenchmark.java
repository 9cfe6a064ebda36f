package cgw.bench;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A replica applying a body of an epoch's changed blocks: {@value #BODY_BLOCKS} 4 KiB blocks at
 * random places of a filled 1 GiB volume, after a cut (so each is a new version, appended).
 * {@code writeEach} calls {@code BlockStore.write} per block, as the replica did before
 * 2026-12-07; {@code writeBlocks} passes the body's blocks in one call. Throughput is blocks per
 * second ({@link OperationsPerInvocation}); the two in one run give the ratio.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class ScatteredApplyBenchmark {
    static final int BODY_BLOCKS = 250;

    @Benchmark
    @OperationsPerInvocation(BODY_BLOCKS)
    public void writeEach(Target target) {
        long[] blocks = target.nextBody();
        for (int i = 0; i < blocks.length; i++) {
            target.store.write(target.volume, blocks[i] * target.blockSizeBytes,
                    target.data.slice(i * target.blockSizeBytes, target.blockSizeBytes));
        }
    }

    @Benchmark
    @OperationsPerInvocation(BODY_BLOCKS)
    public void writeBlocks(Target target) {
        long[] blocks = target.nextBody();
        target.store.writeBlocks(target.volume, blocks, blocks.length,
                target.data.slice(0, blocks.length * target.blockSizeBytes));
    }

    /** A filled 1 GiB volume, cut once per iteration, and the bytes of a body. */
    @State(Scope.Benchmark)
    public static class Target extends StoreParams {
        @Param("1024")
        public int volumeMiB;

        private Path dir;
        private final SplittableRandom random = new SplittableRandom(3);
        ByteBuffer data;

        @Setup(Level.Trial)
        public void open() {
            dir = openFilled("scattered-apply", options(), volumeMiB);
            byte[] bytes = new byte[BODY_BLOCKS * blockSizeBytes];
            random.nextBytes(bytes);
            data = ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
        }

        @Setup(Level.Iteration)
        public void cut() {
            store.cut(volume);
        }

        /** Distinct random blocks, ascending; a collision leaves one out (the count stays close). */
        long[] nextBody() {
            long[] blocks = new long[BODY_BLOCKS];
            long count = sizeBytes / blockSizeBytes;
            for (int i = 0; i < BODY_BLOCKS; i++) {
                blocks[i] = random.nextLong(count);
            }
            Arrays.sort(blocks);
            return Arrays.stream(blocks).distinct().toArray();
        }

        @TearDown(Level.Trial)
        public void close() {
            close(dir);
        }
    }
}

package cgw.bench;

import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import java.nio.ByteBuffer;
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

/**
 * Block I/O through the store API, as the NBD layer will call it: direct buffers, one call per
 * request, no flush. Each method has a twin of the same name in {@link FileIoBenchmark}, its peer
 * on a plain file of the same disk; bench/summarize.py reports the ratio.
 *
 * <p>Threads: {@code -t 1} and {@code -t 8} share one store per trial, each thread with its own
 * offsets and buffers.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class StoreIoBenchmark {

    /** 4 KiB writes at uniformly random offsets of a volume that holds data everywhere. */
    @Benchmark
    public void write4k(FreshVolume target, RandomIo io) {
        long offset = io.nextOffset(target.sizeBytes);
        target.store.write(target.volume, offset, io.pattern.at(offset));
    }

    /** 4 KiB reads at random offsets of a dataset that fits the block cache, warmed before measuring. */
    @Benchmark
    public void readCached4k(CachedDataset source, RandomIo io) {
        long offset = io.nextOffset(source.sizeBytes);
        source.store.read(source.volume, offset, io.readBuffer(offset));
    }

    /** 4 KiB reads at random offsets of a dataset far larger than a 64 MiB block cache. */
    @Benchmark
    public void readUncached4k(UncachedDataset source, RandomIo io) {
        long offset = io.nextOffset(source.sizeBytes);
        source.store.read(source.volume, offset, io.readBuffer(offset));
    }

    /** Sequential writes over a volume that holds data everywhere, each thread in its own part. */
    @Benchmark
    public void sequentialWrite(FreshVolume target, SequentialIo io) {
        long offset = io.nextOffset(target.sizeBytes);
        target.store.write(target.volume, offset, io.pattern.at(offset));
    }

    /** Sequential reads of a large dataset with the default cache, each thread in its own part. */
    @Benchmark
    public void sequentialRead(SequentialDataset source, SequentialIo io) {
        long offset = io.nextOffset(source.sizeBytes);
        source.store.read(source.volume, offset, io.readBuffer(offset));
    }

    /**
     * A new store whose volume was filled with the pattern at setup, so writes overwrite data
     * as on a used VM disk. Deleted after the trial.
     */
    @State(Scope.Benchmark)
    public static class FreshVolume extends StoreParams {
        @Param("1024")
        public int volumeMiB;

        private Path dir;

        @Setup(Level.Trial)
        public void open() {
            dir = openFilled("store-io", options(), volumeMiB);
        }

        @TearDown(Level.Trial)
        public void close() {
            close(dir);
        }
    }

    /**
     * A volume written once with the pattern and kept under bench/tmp/datasets for later trials
     * and runs; each trial reads its files into the page cache, reopens it with its own cache
     * sizes and checks samples of it.
     */
    public abstract static class PreparedVolume extends StoreParams {
        abstract int datasetMiB();

        /** The options a trial reads with; the dataset was written with {@link #options()}. */
        abstract StoreOptions readOptions(StoreOptions options);

        /** Runs once the dataset is open and checked. JMH does not order the setups of one state hierarchy. */
        void warm() {
        }

        @Setup(Level.Trial)
        public void open() {
            long datasetBytes = (long) datasetMiB() << 20;
            Path data = BenchSpace.prepared(datasetKey(datasetBytes), dir -> {
                try (BlockStore writer = BlockStore.open(dir, options())) {
                    PatternFill.volumeReported(writer, writer.createVolume(VOLUME_NAME, datasetBytes), datasetBytes);
                }
            });
            BenchSpace.readThrough(data);
            store = BlockStore.open(data, readOptions(options()));
            volume = store.volume(VOLUME_NAME);
            sizeBytes = volume.sizeBytes();
            if (sizeBytes != datasetBytes) {
                throw new IllegalStateException(
                        "dataset " + data + " holds " + sizeBytes + " bytes, expected " + datasetBytes);
            }
            PatternFill.checkVolume(store, volume, sizeBytes);
            warm();
        }

        @TearDown(Level.Trial)
        public void close() {
            close(null);
        }
    }

    /** Fits the 512 MiB block cache, and is read once at setup to fill it. */
    @State(Scope.Benchmark)
    public static class CachedDataset extends PreparedVolume {
        @Param("256")
        public int cachedDatasetMiB;

        @Override
        int datasetMiB() {
            return cachedDatasetMiB;
        }

        @Override
        StoreOptions readOptions(StoreOptions options) {
            return options.withCacheBytes(512L << 20, 64L << 20);
        }

        @Override
        void warm() {
            ByteBuffer chunk = ByteBuffer.allocateDirect(PatternFill.CHUNK_BYTES);
            for (long offset = 0; offset < sizeBytes; offset += PatternFill.CHUNK_BYTES) {
                store.read(volume, offset, chunk);
            }
        }
    }

    /** 64x the 64 MiB block cache at the default size; the OS page cache holds it (see readThrough). */
    @State(Scope.Benchmark)
    public static class UncachedDataset extends PreparedVolume {
        @Param("4096")
        public int uncachedDatasetMiB;

        @Override
        int datasetMiB() {
            return uncachedDatasetMiB;
        }

        @Override
        StoreOptions readOptions(StoreOptions options) {
            return options.withCacheBytes(64L << 20, 16L << 20);
        }
    }

    /** Read with the default options; the same bytes on disk as an equally large UncachedDataset. */
    @State(Scope.Benchmark)
    public static class SequentialDataset extends PreparedVolume {
        @Param("4096")
        public int sequentialDatasetMiB;

        @Override
        int datasetMiB() {
            return sequentialDatasetMiB;
        }

        @Override
        StoreOptions readOptions(StoreOptions options) {
            return options;
        }
    }
}

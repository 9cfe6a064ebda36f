package cgw.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * The peer of {@link StoreIoBenchmark}: the same I/O, sizes, offsets, bytes and thread counts on
 * a plain file of the same disk with FileChannel positional reads and writes (pread/pwrite
 * through the page cache, no sync), as a raw disk image served without a store would see them.
 * Method and parameter names match the store's so bench/summarize.py can pair them.
 *
 * <p>Threads: {@code -t 1} and {@code -t 8} share one file per trial.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class FileIoBenchmark {

    @Benchmark
    public void write4k(FreshFile target, RandomIo io) throws IOException {
        long offset = io.nextOffset(target.sizeBytes);
        PatternFill.writeFully(target.channel, io.pattern.at(offset), offset);
    }

    @Benchmark
    public void readCached4k(CachedFile source, RandomIo io) throws IOException {
        long offset = io.nextOffset(source.sizeBytes);
        PatternFill.readFully(source.channel, io.readBuffer(offset), offset);
    }

    @Benchmark
    public void readUncached4k(UncachedFile source, RandomIo io) throws IOException {
        long offset = io.nextOffset(source.sizeBytes);
        PatternFill.readFully(source.channel, io.readBuffer(offset), offset);
    }

    @Benchmark
    public void sequentialWrite(FreshFile target, SequentialIo io) throws IOException {
        long offset = io.nextOffset(target.sizeBytes);
        PatternFill.writeFully(target.channel, io.pattern.at(offset), offset);
    }

    @Benchmark
    public void sequentialRead(SequentialFile source, SequentialIo io) throws IOException {
        long offset = io.nextOffset(source.sizeBytes);
        PatternFill.readFully(source.channel, io.readBuffer(offset), offset);
    }

    /** An open file of a known size; subclasses decide where it comes from and own its setup and teardown. */
    public abstract static class PeerFile {
        FileChannel channel;
        long sizeBytes;

        void open(Path file, long sizeBytes) {
            this.sizeBytes = sizeBytes;
            try {
                channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot open " + file, e);
            }
        }

        void closeChannel() throws IOException {
            if (channel != null) {
                channel.close();
                channel = null;
            }
        }
    }

    /** A new file filled with the pattern at setup, like a preallocated raw image; deleted after the trial. */
    @State(Scope.Benchmark)
    public static class FreshFile extends PeerFile {
        @Param("1024")
        public int volumeMiB;

        private Path dir;

        @Setup(Level.Trial)
        public void create() {
            dir = BenchSpace.scratch("file-io");
            open(dir.resolve("volume.img"), (long) volumeMiB << 20);
            PatternFill.file(channel, sizeBytes);
        }

        @TearDown(Level.Trial)
        public void delete() throws IOException {
            closeChannel();
            BenchSpace.delete(dir);
        }
    }

    /** A file written once with the pattern and kept under bench/tmp/datasets, read into the page cache each trial like the store's. */
    public abstract static class PreparedFile extends PeerFile {
        abstract int datasetMiB();

        @Setup(Level.Trial)
        public void open() {
            long datasetBytes = (long) datasetMiB() << 20;
            Path data = BenchSpace.prepared("file-" + datasetMiB() + "MiB", dir -> {
                try (FileChannel writer = FileChannel.open(dir.resolve("volume.img"), StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE)) {
                    PatternFill.file(writer, datasetBytes);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot prepare " + dir, e);
                }
            });
            BenchSpace.readThrough(data);
            open(data.resolve("volume.img"), datasetBytes);
            PatternFill.checkFile(channel, sizeBytes);
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            closeChannel();
        }
    }

    /** The size of the store's cached dataset; the page cache is the peer's only cache. */
    @State(Scope.Benchmark)
    public static class CachedFile extends PreparedFile {
        @Param("256")
        public int cachedDatasetMiB;

        @Override
        int datasetMiB() {
            return cachedDatasetMiB;
        }
    }

    @State(Scope.Benchmark)
    public static class UncachedFile extends PreparedFile {
        @Param("4096")
        public int uncachedDatasetMiB;

        @Override
        int datasetMiB() {
            return uncachedDatasetMiB;
        }
    }

    @State(Scope.Benchmark)
    public static class SequentialFile extends PreparedFile {
        @Param("4096")
        public int sequentialDatasetMiB;

        @Override
        int datasetMiB() {
            return sequentialDatasetMiB;
        }
    }
}

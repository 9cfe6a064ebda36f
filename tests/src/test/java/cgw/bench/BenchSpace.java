package cgw.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * Where benchmarks keep their data: {@code -Dcgw.bench.dir}, a directory on the real disk
 * (bench/store-bench.sh passes the worktree's gitignored bench/tmp), never a tmpfs. Scratch
 * directories live for one trial. Prepared datasets are kept between trials and runs under a key
 * naming everything that shapes their bytes, and trusted only once their READY marker exists, so
 * a fork killed halfway through preparing one leaves nothing that a later fork would read.
 *
 * <p>Threads: JMH setup and teardown methods, one at a time.
 */
final class BenchSpace {
    static final String DIR_PROPERTY = "cgw.bench.dir";
    private static final String READY_MARKER = "READY";
    private static final AtomicInteger scratchCount = new AtomicInteger();

    private BenchSpace() {
    }

    static Path root() {
        return Path.of(System.getProperty(DIR_PROPERTY, "bench/tmp")).toAbsolutePath();
    }

    /** A new empty directory for one trial; delete it with {@link #delete}. */
    static Path scratch(String name) {
        Path dir = root().resolve("scratch")
                .resolve(name + "-" + ProcessHandle.current().pid() + "-" + scratchCount.incrementAndGet());
        delete(dir);
        return createDirectories(dir);
    }

    /**
     * The directory of the dataset {@code key}, running {@code prepare} on an empty
     * {@code <dir>/data} first unless an earlier trial completed it. Returns {@code <dir>/data}.
     */
    static Path prepared(String key, Consumer<Path> prepare) {
        Path dir = root().resolve("datasets").resolve(key);
        Path data = dir.resolve("data");
        if (Files.exists(dir.resolve(READY_MARKER))) {
            return data;
        }
        delete(dir);
        createDirectories(data);
        prepare.accept(data);
        try {
            Files.createFile(dir.resolve(READY_MARKER));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot mark dataset " + dir + " ready", e);
        }
        return data;
    }

    /**
     * Reads every file under {@code dir} once, so that a dataset starts each trial in the OS page
     * cache whatever ran before it: "uncached" is about RocksDB's block cache, and the store and
     * its peer file must start alike.
     */
    static void readThrough(Path dir) {
        ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path file : paths.filter(Files::isRegularFile).toList()) {
                try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
                    while (channel.read(chunk.clear()) >= 0) {
                        // only the page cache keeps what is read
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir, e);
        }
    }

    /** Deletes a directory tree; a missing one is fine. */
    static void delete(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }

    private static Path createDirectories(Path dir) {
        try {
            return Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir, e);
        }
    }
}

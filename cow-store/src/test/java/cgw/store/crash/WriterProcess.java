package cgw.store.crash;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.BlockStore;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.rocksdb.util.Environment;

/** A {@link CrashWriter} child process: how to start one, wait until it is ready, and kill it. */
final class WriterProcess {
    /** Status of a process ended by SIGKILL: 128 + 9. */
    private static final int SIGKILL_STATUS = 137;
    /** Lines of the child's output kept for a failure message. */
    private static final int OUTPUT_TAIL_LINES = 60;
    /**
     * How long a child may take to become ready or to die after SIGKILL. A child that takes
     * longer is stuck (in the kernel, on a file system that stopped answering): the round fails
     * with where its threads wait, rather than hang the build.
     */
    private static final Duration STUCK = Duration.ofMinutes(2);

    private WriterProcess() {
    }

    /**
     * The same java binary and class path as this JVM, small and quick to start. RocksDB loads its
     * library from a copy made once, not from a fresh temp copy per child that a kill would leak.
     */
    static List<String> command(Path dir) throws IOException {
        Path lib = Files.createDirectories(dir.resolve("lib"));
        String libraryFile = Environment.getJniLibraryFileName("rocksdb");
        try (InputStream in = BlockStore.class.getClassLoader().getResourceAsStream(libraryFile)) {
            assertThat(in).as("RocksDB library %s on the class path", libraryFile).isNotNull();
            Files.copy(in, lib.resolve(libraryFile), StandardCopyOption.REPLACE_EXISTING);
        }
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        return List.of(java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Djava.library.path=" + lib, "-Djava.io.tmpdir=" + tmp,
                "-cp", System.getProperty("java.class.path"), CrashWriter.class.getName());
    }

    /** A running {@link CrashWriter}; one thread drains its output and keeps the tail. */
    static final class Child {
        private final Process process;
        private final CountDownLatch readyOrGone = new CountDownLatch(1);
        private final ArrayDeque<String> tail = new ArrayDeque<>();
        private final Thread drain;
        private volatile boolean ready;

        private Child(Process process) {
            this.process = process;
            this.drain = new Thread(this::drain, "crash-writer-output");
            drain.setDaemon(true);
            drain.start();
        }

        static Child start(List<String> command, Path storeDir, Path journal, long seed, int round, boolean shared)
                throws IOException {
            List<String> args = new ArrayList<>(command);
            args.addAll(List.of(storeDir.toString(), journal.toString(), Long.toString(seed), Integer.toString(round),
                    Boolean.toString(shared)));
            return new Child(new ProcessBuilder(args).redirectErrorStream(true).start());
        }

        private void drain() {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null;) {
                    if (line.equals(CrashWriter.READY)) {
                        ready = true;
                        readyOrGone.countDown();
                    }
                    synchronized (tail) {
                        tail.addLast(line);
                        if (tail.size() > OUTPUT_TAIL_LINES) {
                            tail.removeFirst();
                        }
                    }
                }
            } catch (IOException e) {
                synchronized (tail) {
                    tail.addLast("(reading output failed: " + e + ")");
                }
            } finally {
                readyOrGone.countDown();
            }
        }

        void awaitReady(String where) throws InterruptedException {
            if (!readyOrGone.await(STUCK.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError(where + ": the writer was not ready after " + STUCK + "; " + threads()
                        + "\n" + output(false));
            }
            if (!ready) {
                awaitExit(where);
                throw new AssertionError(where + ": the writer exited with status " + process.exitValue()
                        + " before it was ready:\n" + output(true));
            }
        }

        /** SIGKILL; the writer must still be running, since it never stops by itself. */
        void kill(String where) throws InterruptedException {
            boolean wasAlive = process.isAlive();
            process.destroyForcibly();
            int status = awaitExit(where);
            if (!wasAlive || status != SIGKILL_STATUS) {
                throw new AssertionError(where + ": the writer exited with status " + status
                        + " before it was killed:\n" + output(true));
            }
        }

        private int awaitExit(String where) throws InterruptedException {
            if (!process.waitFor(STUCK.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError(where + ": the writer did not exit within " + STUCK + " of its end; "
                        + threads() + "\n" + output(false));
            }
            drain.join(STUCK.toMillis());
            return process.exitValue();
        }

        /** Where each thread of the child waits in the kernel, as /proc tells (a stuck child's story). */
        private String threads() {
            StringBuilder text = new StringBuilder("its threads (name, state, kernel wait):");
            try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(process.pid()), "task"))) {
                for (Path task : tasks.sorted().toList()) {
                    String stat = Files.readString(task.resolve("stat"));
                    text.append("\n  ").append(Files.readString(task.resolve("comm")).strip()).append(' ')
                            .append(stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3))
                            .append(' ').append(Files.readString(task.resolve("wchan")));
                }
            } catch (IOException | RuntimeException e) {
                text.append(" (unreadable: ").append(e).append(')');
            }
            return text.toString();
        }

        /** The tail of the child's output; {@code complete} waits for the output to end (the child is gone). */
        private String output(boolean complete) throws InterruptedException {
            if (complete) {
                drain.join(STUCK.toMillis());
            }
            synchronized (tail) {
                return String.join("\n", tail);
            }
        }
    }
}

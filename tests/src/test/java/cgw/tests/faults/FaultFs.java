package cgw.tests.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import cgw.tests.ExternalTool;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A disk that fails and loses power, for a test to put a store on: {@code faultfs.py} (Debian's
 * python3-pyfuse3) mounts a backing directory at a mount point, passes every operation through,
 * and on command fails fsyncs or writes, or cuts the power, dropping every byte not yet synced
 * (the model is in {@code faultfs_durability.py}'s docstring). Owned by the test thread;
 * {@link #close} unmounts.
 */
public final class FaultFs implements AutoCloseable {
    private static final String PYTHON = "/usr/bin/python3"; // Debian's: it has the bindings
    private static final String PYFUSE3 = "/usr/lib/python3/dist-packages/_pyfuse3.py";
    /** What {@link #mount} makes in its own directory: the script and its modules, its output, its socket. */
    private static final String SCRIPT = "faultfs.py";
    private static final List<String> MODULES = List.of(SCRIPT, "faultfs_durability.py", "faultfs_control.py");
    private static final String LOG = "faultfs.log";
    private static final String SOCKET = "control.sock";
    private static final String READY_LINE = "faultfs: ready\n";
    private static final Duration MOUNT_TIMEOUT = Duration.ofSeconds(30);
    private static final long EXIT_TIMEOUT_SECONDS = 10;
    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);

    /** What a power cut did: files it touched, pages it put back, pages of failed syncs it lost. */
    public record Cut(int files, int pagesRestored, int pagesLost, int filesResized) {
    }

    /** What {@link #persist} did. */
    record Persisted(int files) {
    }

    /** Counters since the mount, and the faults armed since the last {@link #clear}. */
    public record Stats(long syncsOk, long syncsFailed, long writes, long writesFailed, long cuts,
            List<Fault> faults) {
    }

    /** An armed fault: {@code remaining} is null when it fires every time. */
    public record Fault(String op, String glob, String errno, Integer remaining, int fired) {
    }

    private final Process process;
    private final Path mountPoint;
    private final Path work;
    private final Path socket;
    private final Path log;
    private boolean closed;

    private FaultFs(Process process, Path mountPoint, Path work) {
        this.process = process;
        this.mountPoint = mountPoint;
        this.work = work;
        this.socket = work.resolve(SOCKET);
        this.log = work.resolve(LOG);
    }

    /** {@link #mount} of a new {@code dir/backing} at a new {@code dir/mnt}. */
    public static FaultFs mountIn(Path dir) throws IOException {
        return mount(Files.createDirectory(dir.resolve("backing")), Files.createDirectory(dir.resolve("mnt")));
    }

    /**
     * Mounts {@code backing} (a directory) at {@code mountPoint} (an empty directory) and waits
     * until the file system serves. Fails, naming the package, when a tool is missing.
     */
    public static FaultFs mount(Path backing, Path mountPoint) throws IOException {
        ExternalTool.require(PYTHON, "python3");
        ExternalTool.require(PYFUSE3, "python3-pyfuse3");
        ExternalTool.require("fusermount3", "fuse3");
        assertThat(Path.of("/dev/fuse")).as("/dev/fuse (the fuse kernel module)").exists();
        Path work = Files.createTempDirectory("faultfs"); // short: a socket's path has 107 bytes at most
        for (String module : MODULES) {
            try (InputStream in = FaultFs.class.getResourceAsStream(module)) {
                assertThat(in).as("%s beside FaultFs on the class path", module).isNotNull();
                Files.copy(in, work.resolve(module));
            }
        }
        Path mount = mountPoint.toRealPath();
        // -B: no __pycache__ beside the modules, so close() finds only what it made
        FaultFs fs = new FaultFs(new ProcessBuilder(PYTHON, "-B", work.resolve(SCRIPT).toString(),
                backing.toRealPath().toString(), mount.toString(), work.resolve(SOCKET).toString())
                .redirectErrorStream(true).redirectOutput(work.resolve(LOG).toFile()).start(), mount, work);
        try {
            await("faultfs mounts " + mount).atMost(MOUNT_TIMEOUT)
                    .until(() -> fs.output().contains(READY_LINE) || !fs.process.isAlive());
            if (!fs.process.isAlive() || !mounted(mount)) {
                fail("faultfs did not mount " + mount + "; its output:\n" + fs.output());
            }
            return fs;
        } catch (RuntimeException | AssertionError e) {
            try {
                fs.close();
            } catch (RuntimeException | AssertionError suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * The next {@code count} (0: every) fsync/fdatasync of files or directories matching
     * {@code glob} (fnmatch over the path below the mount point, such as {@code store/values/*})
     * fail with EIO.
     */
    public void failSync(String glob, int count) {
        expectOk(command("fail-sync", glob, count(count)));
    }

    /** The next {@code count} (0: every) writes to files matching {@code glob} fail with {@code errno} (EIO, ENOSPC). */
    public void failWrite(String glob, String errno, int count) {
        expectOk(command("fail-write", glob, errno, count(count)));
    }

    /** Drops every byte not synced; the writers must be gone (killed), as after a real power cut. */
    public Cut powerCut() {
        return parse(command("cut"), Cut.class);
    }

    /**
     * The kernel writing files back on its own: what the files matching {@code glob} hold now
     * survives a later {@link #powerCut}, as if synced. Returns how many had unsynced pages.
     */
    public int persist(String glob) {
        return parse(command("persist", glob), Persisted.class).files();
    }

    /** Disarms every fault. */
    public void clear() {
        expectOk(command("clear"));
    }

    public Stats stats() {
        return parse(command("stats"), Stats.class);
    }

    public Path mountPoint() {
        return mountPoint;
    }

    /** What the file system printed: its errors, when a request failed in it. */
    public String output() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no output: " + e + ")";
        }
    }

    /** Unmounts (lazily when busy), ends the process and checks that nothing is left mounted; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (mounted(mountPoint) && ExternalTool.run("fusermount3", "-u", mountPoint.toString()).exitCode() != 0) {
                ExternalTool.run("fusermount3", "-u", "-z", mountPoint.toString()).assertSuccess();
            }
            if (!process.waitFor(EXIT_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(EXIT_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        } finally {
            deleteWork();
        }
        assertThat(mounted(mountPoint)).as("%s still mounted after close", mountPoint).isFalse();
    }

    /** Deletes what {@link #mount} made beside the mount (the script removes its socket when it exits). */
    private void deleteWork() {
        try {
            for (String name : Stream.concat(MODULES.stream(), Stream.of(LOG, SOCKET)).toList()) {
                Files.deleteIfExists(work.resolve(name));
            }
            Files.deleteIfExists(work);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + work, e);
        }
    }

    private static String count(int count) {
        if (count < 0) {
            throw new IllegalArgumentException("count must be >= 0 (0: every time), got " + count);
        }
        return Integer.toString(count);
    }

    /** Sends one command line (each word quoted) on a connection of its own; returns the reply line. */
    private String command(String... words) {
        StringBuilder line = new StringBuilder();
        for (String word : words) {
            if (word.isEmpty() || word.indexOf('\n') >= 0 || word.indexOf('\'') >= 0) {
                throw new IllegalArgumentException("a control word must be non-empty, without newlines or"
                        + " single quotes, got '" + word + "'");
            }
            line.append(line.length() == 0 ? "" : " ").append('\'').append(word).append('\'');
        }
        line.append('\n');
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.connect(UnixDomainSocketAddress.of(socket));
            ByteBuffer request = StandardCharsets.UTF_8.encode(line.toString());
            while (request.hasRemaining()) {
                channel.write(request);
            }
            channel.shutdownOutput();
            String reply = new String(Channels.newInputStream(channel).readAllBytes(), StandardCharsets.UTF_8).strip();
            if (reply.isEmpty() || reply.startsWith("error:")) {
                fail("faultfs answered '" + reply + "' to " + line.toString().strip() + "; its output:\n" + output());
            }
            return reply;
        } catch (IOException e) {
            throw new UncheckedIOException("faultfs control socket " + socket + "; its output:\n" + output(), e);
        }
    }

    private static void expectOk(String reply) {
        assertThat(reply).isEqualTo("ok");
    }

    private static <T> T parse(String reply, Class<T> type) {
        try {
            return JSON.readValue(reply, type);
        } catch (IOException e) {
            throw new UncheckedIOException("faultfs replied " + reply, e);
        }
    }

    /** Whether {@code mountPoint} is a mount point now, per {@code /proc/self/mountinfo}. */
    private static boolean mounted(Path mountPoint) {
        String escaped = mountPoint.toString().replace("\\", "\\134").replace(" ", "\\040");
        try (Stream<String> lines = Files.lines(Path.of("/proc/self/mountinfo"))) {
            return lines.map(l -> l.split(" ")).anyMatch(fields -> fields.length > 4 && fields[4].equals(escaped));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

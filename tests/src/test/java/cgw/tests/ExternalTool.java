package cgw.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a real client program (qemu-img, nbdinfo, fio, ...) and captures what it printed. A missing
 * program fails the test with the Debian package to install: tests never skip for a missing tool.
 */
public final class ExternalTool {
    private static final long TIMEOUT_SECONDS = 300;

    /** What a finished program printed. */
    public record Result(int exitCode, String stdout, String stderr, List<String> command) {
        public Result assertSuccess() {
            assertThat(exitCode).as("exit code of %s%nstdout: %s%nstderr: %s", command, stdout, stderr).isZero();
            return this;
        }
    }

    private ExternalTool() {
    }

    /**
     * Waits until the daemon {@code process} wrote its {@code pidFile} (it is ready) or ended,
     * for up to 30 s; the caller checks which, with the daemon's log at hand.
     */
    public static void awaitPidFile(Process process, Path pidFile) {
        await(process.info().command().orElse("a daemon") + " writes " + pidFile).atMost(Duration.ofSeconds(30))
                .until(() -> Files.exists(pidFile) || !process.isAlive());
    }

    /** Fails unless {@code program} is on the PATH (or is an absolute path that exists); returns its path. */
    public static String require(String program, String debianPackage) {
        if (program.startsWith("/")) {
            assertThat(Path.of(program)).as("%s (Debian package %s; ./test.sh installs it)", program, debianPackage)
                    .exists();
            return program;
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return Path.of(dir, program).toString();
            }
        }
        throw new AssertionError(program + " is not installed (Debian package " + debianPackage
                + "; ./test.sh installs it)");
    }

    /**
     * Runs nbdsh with Debian's python3, which has the libnbd bindings (the python3 on PATH may be
     * another one). {@code args} follow nbdsh's own, such as {@code -u URI -c CODE}.
     */
    public static Result nbdsh(String... args) {
        require("/usr/bin/python3", "python3");
        require("nbdsh", "python3-libnbd");
        String[] command = new String[args.length + 2];
        command[0] = "/usr/bin/python3";
        command[1] = "-mnbd"; // what /usr/bin/nbdsh runs, with whatever python3 is first on PATH
        System.arraycopy(args, 0, command, 2, args.length);
        return run(command);
    }

    public static Result run(String... command) {
        return runWithInput(null, command);
    }

    /** Runs {@code command}, feeding {@code stdin} when not null, and waits for it to exit. */
    public static Result runWithInput(String stdin, String... command) {
        return run(stdin, Map.of(), command);
    }

    /** Runs {@code command} with {@code environment} added to this process's, and waits for it to exit. */
    public static Result runWithEnvironment(Map<String, String> environment, String... command) {
        return run(null, environment, command);
    }

    private static Result run(String stdin, Map<String, String> environment, String... command) {
        List<String> argv = Arrays.asList(command);
        try {
            ProcessBuilder builder = new ProcessBuilder(argv);
            builder.environment().putAll(environment);
            Process process = builder.start();
            CompletableFuture<String> out = drain(process.getInputStream());
            CompletableFuture<String> err = drain(process.getErrorStream());
            if (stdin != null) {
                process.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
            }
            process.getOutputStream().close();
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError(argv + " did not finish within " + TIMEOUT_SECONDS + " s");
            }
            return new Result(process.exitValue(), out.join(), err.join(), new ArrayList<>(argv));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + argv, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while running " + argv, e);
        }
    }

    private static CompletableFuture<String> drain(InputStream stream) {
        return CompletableFuture.supplyAsync(() -> {
            try (stream) {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }
}

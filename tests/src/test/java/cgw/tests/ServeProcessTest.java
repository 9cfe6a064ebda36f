package cgw.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cgw serve} as operators run it: the shaded jar in its own JVM, its stdout lines, the
 * token file, SIGTERM and a restart on the same data directory.
 */
@Timeout(180) // a gateway that never prints its lines or never exits fails the test instead of the build
class ServeProcessTest {
    private static final Pattern REST_LINE = Pattern.compile("REST listening on http://127\\.0\\.0\\.1:(\\d+)");

    @TempDir
    Path dir;

    @Test
    void servesUntilSigtermExitsZeroAndKeepsItsTokenAcrossRestarts() throws Exception {
        Path data = dir.resolve("data");
        String token;
        try (Gateway gateway = Gateway.start(data, dir.resolve("first.err"))) {
            HttpResponse<String> health = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.restPort + "/healthz")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).isEqualTo(200);
            assertThat(health.body()).isEqualTo("{\"status\":\"ok\"}");

            Path tokenFile = data.resolve("api-token");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw-------");
            token = Files.readString(tokenFile).strip();
            assertThat(token).matches("[0-9a-f]{64}");

            assertThat(gateway.stop()).as("exit code after SIGTERM").isEqualTo(0);
            assertThat(gateway.stderr()).as("stderr at the default log level").isEmpty();
        }
        try (Gateway again = Gateway.start(data, dir.resolve("second.err"))) {
            assertThat(Files.readString(data.resolve("api-token")).strip()).isEqualTo(token);
            assertThat(again.stop()).as("exit code after SIGTERM").isEqualTo(0);
        }
    }

    /** A {@code cgw serve} child process on ports chosen by the kernel. */
    private static final class Gateway implements AutoCloseable {
        final Process process;
        final Path stderrFile;
        final int restPort;

        private Gateway(Process process, Path stderrFile, int restPort) {
            this.process = process;
            this.stderrFile = stderrFile;
            this.restPort = restPort;
        }

        static Gateway start(Path data, Path stderrFile) throws IOException {
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            Process process = new ProcessBuilder(List.of(java.toString(), "-Xmx256m", "-jar", jar().toString(),
                    "serve", "--data", data.toString(), "--http", "127.0.0.1:0", "--nbd", "127.0.0.1:0"))
                    .redirectError(stderrFile.toFile())
                    .start();
            Gateway gateway = null;
            try {
                BufferedReader stdout = new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
                String restLine = stdout.readLine();
                String tokenLine = stdout.readLine();
                if (restLine == null || tokenLine == null) {
                    fail("cgw serve printed " + restLine + " / " + tokenLine + " and ended; stderr: "
                            + Files.readString(stderrFile));
                }
                Matcher rest = REST_LINE.matcher(restLine);
                assertThat(rest.matches()).as("first line: " + restLine).isTrue();
                assertThat(tokenLine).isEqualTo("API token in " + data.resolve("api-token"));
                gateway = new Gateway(process, stderrFile, Integer.parseInt(rest.group(1)));
                return gateway;
            } finally {
                if (gateway == null) {
                    process.destroyForcibly();
                }
            }
        }

        /** Sends SIGTERM (what {@link Process#destroy} does on Linux) and returns the exit code. */
        int stop() throws InterruptedException {
            process.destroy();
            return process.waitFor();
        }

        String stderr() throws IOException {
            return Files.readString(stderrFile);
        }

        @Override
        public void close() {
            process.destroyForcibly();
        }

        /** The shaded jar that the reactor builds in {@code tools} before this module's tests run. */
        private static Path jar() {
            Path module = Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).toAbsolutePath();
            Path jar = module.resolveSibling("tools").resolve("target").resolve("cgw.jar");
            if (!Files.isRegularFile(jar)) {
                fail(jar + " is missing: run 'mvn -B verify' from the project root, which packages tools before"
                        + " the tests module runs its tests");
            }
            return jar;
        }
    }
}

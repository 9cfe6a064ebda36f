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
    private static final Pattern NBD_LINE = Pattern.compile("NBD listening on nbd://127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern REST_LINE = Pattern.compile("REST listening on (https?)://127\\.0\\.0\\.1:(\\d+)");

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

            // a volume made through REST is an NBD export on the printed port; deleting it while
            // attached is refused
            String secret = Files.readString(data.resolve("api-token")).strip();
            HttpResponse<String> created = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + gateway.restPort + "/v1/volumes"))
                    .header("Authorization", "Bearer " + secret)
                    .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"vm1\",\"size\":\"64MiB\"}")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
            String uri = "nbd://127.0.0.1:" + gateway.nbdPort + "/vm1";
            ExternalTool.run("qemu-io", "-f", "raw", "-c", "write -P 0x42 0 1M", uri).assertSuccess();
            ExternalTool.run("qemu-img", "info", uri).assertSuccess();
            Process attached = new ProcessBuilder("/usr/bin/python3", "-mnbd", "-u", uri, "-c",
                    "import sys; sys.stdin.read()").start();
            try {
                HttpRequest delete = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.restPort
                        + "/v1/volumes/vm1")).header("Authorization", "Bearer " + secret).DELETE().build();
                HttpResponse<String> refused = null;
                for (int i = 0; i < 100 && (refused == null || refused.statusCode() != 409); i++) {
                    Thread.sleep(50); // until nbdsh has connected
                    refused = HttpClient.newHttpClient().send(delete, HttpResponse.BodyHandlers.ofString());
                    assertThat(refused.statusCode()).as(refused.body()).isIn(204, 409);
                }
                assertThat(refused.statusCode()).as(refused.body()).isEqualTo(409);
                assertThat(refused.body()).contains("open NBD connection");
            } finally {
                attached.getOutputStream().close();
                attached.waitFor();
            }

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

    @Test
    void tlsServesNbdWithStarttlsAndRestOverHttps() throws Exception {
        Path data = dir.resolve("data");
        try (Gateway gateway = Gateway.start(data, dir.resolve("tls.err"), "--tls")) {
            Path tls = data.resolve("tls");
            assertThat(tls.resolve("ca-cert.pem")).exists();
            ExternalTool.run("nbdinfo", "--list", "nbds://127.0.0.1:" + gateway.nbdPort + "/?tls-certificates=" + tls)
                    .assertSuccess();
            assertThat(ExternalTool.run("nbdinfo", "--list", "nbd://127.0.0.1:" + gateway.nbdPort).exitCode())
                    .as("a client without TLS is refused").isNotZero();
            ExternalTool.Result health = ExternalTool.run("curl", "-sS", "--cacert", tls.resolve("ca-cert.pem").toString(),
                    "https://127.0.0.1:" + gateway.restPort + "/healthz").assertSuccess();
            assertThat(health.stdout()).isEqualTo("{\"status\":\"ok\"}");
            assertThat(gateway.stop()).isEqualTo(0);
        }
    }

    /** A {@code cgw serve} child process on ports chosen by the kernel. */
    private static final class Gateway implements AutoCloseable {
        final Process process;
        final Path stderrFile;
        final int nbdPort;
        final int restPort;

        private Gateway(Process process, Path stderrFile, int nbdPort, int restPort) {
            this.process = process;
            this.stderrFile = stderrFile;
            this.nbdPort = nbdPort;
            this.restPort = restPort;
        }

        static Gateway start(Path data, Path stderrFile, String... extraArgs) throws IOException {
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            List<String> command = new java.util.ArrayList<>(List.of(java.toString(), "-Xmx256m", "-jar", jar().toString(),
                    "serve", "--data", data.toString(), "--http", "127.0.0.1:0", "--nbd", "127.0.0.1:0"));
            command.addAll(List.of(extraArgs));
            Process process = new ProcessBuilder(command)
                    .redirectError(stderrFile.toFile())
                    .start();
            Gateway gateway = null;
            try {
                BufferedReader stdout = new BufferedReader(
                        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
                String nbdLine = stdout.readLine();
                String restLine = stdout.readLine();
                String tokenLine = stdout.readLine();
                if (nbdLine == null || restLine == null || tokenLine == null) {
                    fail("cgw serve printed " + nbdLine + " / " + restLine + " / " + tokenLine + " and ended; stderr: "
                            + Files.readString(stderrFile));
                }
                Matcher nbd = NBD_LINE.matcher(nbdLine);
                assertThat(nbd.matches()).as("first line: " + nbdLine).isTrue();
                Matcher rest = REST_LINE.matcher(restLine);
                assertThat(rest.matches()).as("second line: " + restLine).isTrue();
                assertThat(rest.group(1)).isEqualTo(List.of(extraArgs).contains("--tls") ? "https" : "http");
                assertThat(tokenLine).isEqualTo("API token in " + data.resolve("api-token"));
                gateway = new Gateway(process, stderrFile, Integer.parseInt(nbd.group(1)), Integer.parseInt(rest.group(2)));
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

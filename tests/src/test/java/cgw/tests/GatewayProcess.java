package cgw.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import cgw.host.TrustedCa;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code cgw serve} child process as operators run it (the shaded jar), on ports chosen by the
 * kernel, with a REST client that sends its token. Checks the three lines it prints.
 */
public final class GatewayProcess implements AutoCloseable {
    private static final Pattern NBD_LINE = Pattern.compile("NBD listening on nbd://127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern REST_LINE = Pattern.compile("REST listening on (https?)://127\\.0\\.0\\.1:(\\d+)");
    private static final ObjectMapper JSON = new ObjectMapper();

    public final Process process;
    public final Path data;
    public final int nbdPort;
    public final int restPort;
    /** {@code http} or, for a gateway started with {@code --tls}, {@code https}. */
    public final String restScheme;
    private final Path stderrFile;
    private final HttpClient http;

    private GatewayProcess(Process process, Path data, Path stderrFile, int nbdPort, int restPort, String restScheme) {
        this.process = process;
        this.data = data;
        this.stderrFile = stderrFile;
        this.nbdPort = nbdPort;
        this.restPort = restPort;
        this.restScheme = restScheme;
        HttpClient.Builder client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1);
        if (restScheme.equals("https")) {
            Path caCert = data.resolve("tls").resolve("ca-cert.pem");
            try {
                client.sslContext(TrustedCa.sslContext(Files.readAllBytes(caCert), caCert.toString()));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + caCert, e);
            }
        }
        this.http = client.build();
    }

    /** Starts {@code cgw serve --data DATA} plus {@code extraArgs}; its stderr goes to {@code stderrFile}. */
    public static GatewayProcess start(Path data, Path stderrFile, String... extraArgs) throws IOException {
        return start(data, stderrFile, Map.of(), extraArgs);
    }

    /** As {@link #start(Path, Path, String...)}, with {@code environment} added to the child's. */
    public static GatewayProcess start(Path data, Path stderrFile, Map<String, String> environment, String... extraArgs)
            throws IOException {
        return start(data, stderrFile, List.of(), environment, extraArgs);
    }

    /** As {@link #start(Path, Path, Map, String...)}, with {@code jvmOptions} (such as a debugger agent) for the child's JVM. */
    public static GatewayProcess start(Path data, Path stderrFile, List<String> jvmOptions,
            Map<String, String> environment,
            String... extraArgs) throws IOException {
        List<String> command = new ArrayList<>(javaJar(jvmOptions));
        command.addAll(List.of("serve", "--data", data.toString()));
        List<String> extra = List.of(extraArgs);
        // free ports unless the caller asks for given ones (a restart at the same address)
        if (!extra.contains("--http")) {
            command.addAll(List.of("--http", "127.0.0.1:0"));
        }
        if (!extra.contains("--nbd")) {
            command.addAll(List.of("--nbd", "127.0.0.1:0"));
        }
        command.addAll(extra);
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(stderrFile.toFile());
        builder.environment().putAll(environment);
        Process process = builder.start();
        GatewayProcess gateway = null;
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
            gateway = new GatewayProcess(process, data, stderrFile, Integer.parseInt(nbd.group(1)),
                    Integer.parseInt(rest.group(2)), rest.group(1));
            return gateway;
        } finally {
            if (gateway == null) {
                process.destroyForcibly();
            }
        }
    }

    /** {@code java -Xmx256m -jar cgw.jar}: what {@code ./cgw} runs. */
    private static List<String> javaJar() {
        return javaJar(List.of());
    }

    /** {@code java -Xmx256m JVM_OPTIONS... -jar cgw.jar}. */
    private static List<String> javaJar(List<String> jvmOptions) {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> command = new ArrayList<>(List.of(java.toString(), "-Xmx256m"));
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", jar().toString()));
        return command;
    }

    /** Runs the client {@code cgw args...} against this gateway (its URL and token) with {@code environment} added. */
    public ExternalTool.Result cli(Map<String, String> environment, String... args) {
        List<String> command = new ArrayList<>(javaJar());
        command.addAll(List.of(args));
        command.addAll(List.of("--server", restScheme + "://127.0.0.1:" + restPort, "--token-file",
                data.resolve("api-token").toString()));
        if (restScheme.equals("https")) {
            command.addAll(List.of("--ca-cert", data.resolve("tls").resolve("ca-cert.pem").toString()));
        }
        return ExternalTool.runWithEnvironment(environment, command.toArray(String[]::new));
    }

    /** Runs {@code cgw args...} as a local command (no gateway options) with {@code environment} added. */
    public static ExternalTool.Result localCli(Map<String, String> environment, String... args) {
        List<String> command = new ArrayList<>(javaJar());
        command.addAll(List.of(args));
        return ExternalTool.runWithEnvironment(environment, command.toArray(String[]::new));
    }

    /** {@code nbd://127.0.0.1:PORT/EXPORT}. */
    public String nbdUri(String export) {
        return "nbd://127.0.0.1:" + nbdPort + "/" + export;
    }

    /** Sends a REST request with the gateway's token ({@code body} null: none). */
    public HttpResponse<String> rest(String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(restScheme + "://127.0.0.1:" + restPort + path))
                .header("Authorization", "Bearer " + token())
                .method(method,
                        body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    /** A REST call that must answer {@code status}; returns its JSON body (null when empty). */
    public JsonNode call(int status, String method, String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> response = rest(method, path, body);
        assertThat(response.statusCode()).as(method + " " + path + ": " + response.body()).isEqualTo(status);
        return response.body().isEmpty() ? null : JSON.readTree(response.body());
    }

    /** Waits up to 30 s until {@code GET /metrics} has the line {@code sample}, e.g. {@code cgw_nbd_connections 1.0}. */
    public void awaitMetric(String sample) {
        awaitMetric(sample, Duration.ofSeconds(30));
    }

    /** Waits up to {@code within} until {@code GET /metrics} has the line {@code sample}. */
    public void awaitMetric(String sample, Duration within) {
        await("/metrics shows " + sample).atMost(within).pollInterval(Duration.ofMillis(200))
                .until(() -> rest("GET", "/metrics", null).body().contains("\n" + sample + "\n"));
    }

    public String token() throws IOException {
        return Files.readString(data.resolve("api-token")).strip();
    }

    /** Sends SIGTERM (what {@link Process#destroy} does on Linux) and returns the exit code. */
    public int stop() throws InterruptedException {
        process.destroy();
        return process.waitFor();
    }

    /** SIGKILL, and waits for the process to be gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    public String stderr() throws IOException {
        return Files.readString(stderrFile);
    }

    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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

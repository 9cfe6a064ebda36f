package cgw.tests;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cgw serve} as operators run it: the shaded jar in its own JVM, its stdout lines, the
 * token file, SIGTERM and a restart on the same data directory.
 */
@Timeout(180) // a gateway that never prints its lines or never exits fails the test instead of the build
class ServeProcessTest {

    @TempDir
    Path dir;

    @Test
    void servesUntilSigtermExitsZeroAndKeepsItsTokenAcrossRestarts() throws Exception {
        Path data = dir.resolve("data");
        String token;
        try (GatewayProcess gateway = GatewayProcess.start(data, dir.resolve("first.err"))) {
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
            // what was written shows in /metrics, which needs the token like every call but /healthz
            HttpResponse<String> metrics = gateway.rest("GET", "/metrics", null);
            assertThat(metrics.statusCode()).as(metrics.body()).isEqualTo(200);
            assertThat(metrics.headers().firstValue("content-type"))
                    .hasValue("text/plain; version=0.0.4; charset=utf-8");
            assertThat(metrics.body()).contains("\ncgw_nbd_bytes_total{op=\"write\",volume=\"vm1\"} 1048576.0\n",
                    "\ncgw_volumes 1.0\n", "# TYPE cgw_barrier_freeze_seconds histogram");
            assertThat(HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + gateway.restPort + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(401);
            Process attached = new ProcessBuilder("/usr/bin/python3", "-mnbd", "-u", uri, "-c",
                    "import sys; sys.stdin.read()").start();
            try {
                HttpRequest delete = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.restPort
                        + "/v1/volumes/vm1")).header("Authorization", "Bearer " + secret).DELETE().build();
                // until nbdsh has connected: a DELETE sent before would succeed and leave nothing to refuse
                gateway.awaitMetric("cgw_nbd_connections 1.0");
                HttpResponse<String> refused = HttpClient.newHttpClient().send(delete,
                        HttpResponse.BodyHandlers.ofString());
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

            // the read token, made beside it, scrapes metrics and lists volumes but changes nothing
            Path readTokenFile = data.resolve("read-token");
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(readTokenFile)))
                    .isEqualTo("rw-------");
            String readToken = Files.readString(readTokenFile).strip();
            assertThat(readToken).matches("[0-9a-f]{64}").isNotEqualTo(token);
            assertThat(send(gateway, "GET", "/metrics", readToken).body()).contains("\ncgw_volumes 1.0\n");
            assertThat(send(gateway, "GET", "/v1/volumes/vm1", readToken).statusCode()).isEqualTo(200);
            HttpResponse<String> refused = send(gateway, "DELETE", "/v1/volumes/vm1", readToken);
            assertThat(refused.statusCode()).as(refused.body()).isEqualTo(403);

            assertThat(gateway.stop()).as("exit code after SIGTERM").isEqualTo(0);
            assertThat(gateway.stderr()).as("stderr at the default log level").isEmpty();
        }
        try (GatewayProcess again = GatewayProcess.start(data, dir.resolve("second.err"))) {
            assertThat(Files.readString(data.resolve("api-token")).strip()).isEqualTo(token);
            assertThat(again.stop()).as("exit code after SIGTERM").isEqualTo(0);
        }
    }

    @Test
    void tlsServesNbdWithStarttlsAndRestOverHttps() throws Exception {
        Path data = dir.resolve("data");
        try (GatewayProcess gateway = GatewayProcess.start(data, dir.resolve("tls.err"), "--tls")) {
            Path tls = data.resolve("tls");
            assertThat(tls.resolve("ca-cert.pem")).exists();
            ExternalTool.run("nbdinfo", "--list", "nbds://127.0.0.1:" + gateway.nbdPort + "/?tls-certificates=" + tls)
                    .assertSuccess();
            assertThat(ExternalTool.run("nbdinfo", "--list", "nbd://127.0.0.1:" + gateway.nbdPort).exitCode())
                    .as("a client without TLS is refused").isNotZero();
            ExternalTool.Result health = ExternalTool
                    .run("curl", "-sS", "--cacert", tls.resolve("ca-cert.pem").toString(),
                            "https://127.0.0.1:" + gateway.restPort + "/healthz")
                    .assertSuccess();
            assertThat(health.stdout()).isEqualTo("{\"status\":\"ok\"}");
            assertThat(gateway.stop()).isEqualTo(0);
        }
    }

    private static HttpResponse<String> send(GatewayProcess gateway, String method, String path, String token)
            throws IOException, InterruptedException {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + gateway.restPort + path))
                .header("Authorization", "Bearer " + token)
                .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    }
}

package cgw.tests.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /v1/openapi.json} against the gateways that serve it: a valid OpenAPI 3.1 document,
 * and a walk through every operation it describes (a primary and a replica gateway, the replica's
 * protocol driven by hand) where each request and reply is held to the description by
 * {@link OpenApiChecker}: an undescribed route, status or field fails. That every served route is
 * described is checked by the gateway itself at start ({@code OpenApiDocument.requireDescribes}).
 */
class OpenApiContractTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();

    @TempDir
    Path dir;
    private OpenApiChecker checker;

    /** One exchange with the token of {@code gateway} ({@code token} null: none), checked. */
    private HttpResponse<String> call(GatewayProcess gateway, String token, String method, String path,
            String contentType, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gateway.restPort + path))
                .method(method, body == null
                        ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        checker.check(method, path, body, "application/json".equals(contentType), response);
        return response;
    }

    private JsonNode json(GatewayProcess gateway, int status, String method, String path, String body)
            throws Exception {
        HttpResponse<String> response = call(gateway, gateway.token(), method, path,
                body == null ? null : "application/json", body);
        assertThat(response.statusCode()).as("%s %s: %s", method, path, response.body()).isEqualTo(status);
        return response.body().isEmpty() ? null : JSON.readTree(response.body());
    }

    /** A body that is not JSON at all: only the reply is checked. */
    private void malformed(GatewayProcess gateway, String method, String path) throws Exception {
        HttpResponse<String> response = call(gateway, gateway.token(), method, path, "text/plain", "{not json");
        assertThat(response.statusCode()).as("%s %s with a broken body", method, path).isEqualTo(400);
    }

    @Test
    void theDescriptionIsValidAndEveryOperationAnswersAsDescribed() throws Exception {
        try (GatewayProcess primary = GatewayProcess.start(dir.resolve("a"), dir.resolve("a.err"));
                GatewayProcess replica = GatewayProcess.start(dir.resolve("b"), dir.resolve("b.err"))) {
            HttpResponse<String> served = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + primary.restPort + "/v1/openapi.json")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(served.statusCode()).isEqualTo(200);
            ParseOptions options = new ParseOptions();
            options.setResolve(true);
            SwaggerParseResult parsed = new OpenAPIV3Parser().readContents(served.body(), null, options);
            assertThat(parsed.getMessages()).as("swagger-parser's findings").isEmpty();
            assertThat(parsed.getOpenAPI().getOpenapi()).startsWith("3.1.");
            checker = new OpenApiChecker(served.body());

            publicAndTokens(primary);
            volumes(primary);
            long snapshot = groupsAndSnapshots(primary);
            backups(primary, snapshot);
            replicaProtocol(replica);
            replication(primary, replica);
            json(primary, 204, "DELETE", "/v1/groups/g", null);
            json(primary, 404, "DELETE", "/v1/groups/g", null);
        }
        TreeSet<String> unvisited = checker.operations();
        unvisited.removeAll(checker.seen());
        assertThat(unvisited).as("operations the walk did not exercise").isEmpty();
    }

    private void publicAndTokens(GatewayProcess gateway) throws Exception {
        assertThat(call(gateway, null, "GET", "/healthz", null, null).statusCode()).isEqualTo(200);
        assertThat(call(gateway, null, "GET", "/v1/openapi.json", null, null).statusCode()).isEqualTo(200);
        assertThat(call(gateway, null, "GET", "/ui", null, null).statusCode()).isEqualTo(301);
        assertThat(call(gateway, null, "GET", "/ui/", null, null).statusCode()).isEqualTo(200);
        assertThat(call(gateway, null, "GET", "/ui/app.js", null, null).statusCode()).isEqualTo(200);
        assertThat(call(gateway, null, "GET", "/ui/nope.js", null, null).statusCode()).isEqualTo(404);
        assertThat(call(gateway, gateway.token(), "POST", "/v1/volumes", "application/json", "null").statusCode())
                .isEqualTo(400);
        assertThat(call(gateway, null, "GET", "/v1/volumes", null, null).statusCode()).isEqualTo(401);
        assertThat(call(gateway, "wrong", "GET", "/v1/volumes", null, null).statusCode()).isEqualTo(401);
        String readToken = Files.readString(gateway.data.resolve("read-token")).strip();
        assertThat(call(gateway, readToken, "POST", "/v1/volumes", "application/json",
                "{\"name\":\"x\",\"size\":4096}").statusCode()).isEqualTo(403);
        assertThat(call(gateway, readToken, "GET", "/metrics", null, null).statusCode()).isEqualTo(200);
    }

    private void volumes(GatewayProcess gateway) throws Exception {
        json(gateway, 201, "POST", "/v1/volumes", "{\"name\":\"v1\",\"size\":\"64MiB\"}");
        json(gateway, 201, "POST", "/v1/volumes", "{\"name\":\"v2\",\"size\":4194304,\"clients\":[\"alice\"]}");
        json(gateway, 201, "POST", "/v1/volumes", "{\"name\":\"v3\",\"size\":\"4MiB\"}");
        json(gateway, 409, "POST", "/v1/volumes", "{\"name\":\"v1\",\"size\":\"1MiB\"}");
        json(gateway, 400, "POST", "/v1/volumes", "{\"name\":\"v4\",\"size\":\"lots\"}");
        malformed(gateway, "POST", "/v1/volumes");
        json(gateway, 200, "GET", "/v1/volumes", null);
        json(gateway, 200, "GET", "/v1/volumes/v2", null);
        json(gateway, 404, "GET", "/v1/volumes/nope", null);
        json(gateway, 200, "PATCH", "/v1/volumes/v2", "{\"clients\":[\"bob\"]}");
        json(gateway, 204, "DELETE", "/v1/volumes/v2", null);
        json(gateway, 404, "DELETE", "/v1/volumes/v2", null);
    }

    private long groupsAndSnapshots(GatewayProcess gateway) throws Exception {
        json(gateway, 201, "POST", "/v1/groups", "{\"name\":\"g\",\"volumes\":[\"v1\"]}");
        json(gateway, 409, "POST", "/v1/groups", "{\"name\":\"g2\",\"volumes\":[\"v1\"]}");
        json(gateway, 200, "GET", "/v1/groups", null);
        json(gateway, 200, "PUT", "/v1/groups/g", "{\"volumes\":[\"v1\",\"v3\"]}");
        json(gateway, 200, "GET", "/v1/groups/g", null);
        json(gateway, 404, "GET", "/v1/groups/nope", null);
        long snapshot = json(gateway, 201, "POST", "/v1/groups/g/snapshots", "{\"label\":\"first\"}").get("id")
                .asLong();
        json(gateway, 409, "DELETE", "/v1/volumes/v3", null);
        long adHoc = json(gateway, 201, "POST", "/v1/snapshots", "{\"volumes\":[\"v3\"],\"timeoutMs\":5000}")
                .get("id").asLong();
        json(gateway, 200, "GET", "/v1/snapshots", null);
        json(gateway, 200, "GET", "/v1/snapshots?group=g", null);
        json(gateway, 200, "GET", "/v1/snapshots/" + snapshot, null);
        json(gateway, 404, "GET", "/v1/snapshots/999", null);
        json(gateway, 201, "POST", "/v1/snapshots/" + snapshot + "/clone", "{\"prefix\":\"c-\"}");
        json(gateway, 409, "POST", "/v1/snapshots/" + snapshot + "/clone", "{\"prefix\":\"c-\"}");
        json(gateway, 204, "DELETE", "/v1/snapshots/" + adHoc, null);
        json(gateway, 404, "DELETE", "/v1/snapshots/" + adHoc, null);
        return snapshot;
    }

    private void backups(GatewayProcess gateway, long snapshot) throws Exception {
        String repository = "file://" + gateway.data.resolve("backups").resolve("repo").toAbsolutePath();
        long job = json(gateway, 202, "POST", "/v1/snapshots/" + snapshot + "/export",
                "{\"target\":\"" + repository + "\"}").get("id").asLong();
        await().atMost(Duration.ofMinutes(2)).until(() -> !json(gateway, 200, "GET", "/v1/jobs/" + job, null)
                .get("state").asText().equals("running"));
        json(gateway, 409, "DELETE", "/v1/jobs/" + job, null);
        assertThat(json(gateway, 200, "GET", "/v1/jobs", null).get("jobs")).hasSize(1);
        json(gateway, 404, "GET", "/v1/jobs/999", null);
        json(gateway, 403, "POST", "/v1/snapshots/" + snapshot + "/export", "{\"target\":\"file:///etc/cgw\"}");
        long restore = json(gateway, 202, "POST", "/v1/restores", "{\"source\":\"" + repository
                + "\",\"snapshot\":" + snapshot + ",\"prefix\":\"r-\"}").get("id").asLong();
        HttpResponse<String> cancel = call(gateway, gateway.token(), "DELETE", "/v1/jobs/" + restore, null, null);
        assertThat(cancel.statusCode()).isIn(202, 409);
        json(gateway, 400, "POST", "/v1/restores", "{\"source\":\"" + repository + "\"}");
    }

    /** The replica's side of the protocol, driven by hand: one empty epoch from an invented primary. */
    private void replicaProtocol(GatewayProcess replica) throws Exception {
        String volumes = "[{\"name\":\"hv\",\"size\":4194304}]";
        JsonNode hello = json(replica, 200, "POST", "/v1/replication/hg/hello",
                "{\"generation\":1,\"primary\":\"elsewhere\",\"volumes\":" + volumes + "}");
        assertThat(hello.get("held")).isEmpty();
        json(replica, 200, "POST", "/v1/replication/hg/epochs", "{\"generation\":1,\"primary\":\"elsewhere\","
                + "\"origin\":\"elsewhere/1\",\"createdAt\":1,\"base\":null,\"keep\":2,\"volumes\":" + volumes + "}");
        HttpResponse<String> blocks = call(replica, replica.token(), "POST",
                "/v1/replication/hg/epochs/current/blocks", "application/octet-stream", "garbage");
        assertThat(blocks.statusCode()).isEqualTo(400);
        json(replica, 200, "POST", "/v1/replication/hg/epochs/current/commit",
                "{\"generation\":1,\"primary\":\"elsewhere\",\"origin\":\"elsewhere/1\",\"bodies\":0,\"bytes\":0}");
        json(replica, 400, "POST", "/v1/replication/hg/hello",
                "{\"generation\":0,\"primary\":\"elsewhere\",\"volumes\":" + volumes + "}");
        malformed(replica, "POST", "/v1/replication/hg/epochs");
        json(replica, 200, "GET", "/v1/groups/hg/replication", null);
    }

    private void replication(GatewayProcess primary, GatewayProcess replica) throws Exception {
        json(primary, 400, "PUT", "/v1/groups/g/replication", "{\"target\":\"ftp://x\",\"targetToken\":\"t\"}");
        json(primary, 200, "PUT", "/v1/groups/g/replication", "{\"target\":\"http://127.0.0.1:" + replica.restPort
                + "\",\"targetToken\":\"" + replica.token() + "\",\"intervalMs\":200,\"keep\":3}");
        await().atMost(Duration.ofMinutes(1)).until(() -> json(primary, 200, "GET", "/v1/groups/g/replication",
                null).path("lastSnapshot").canConvertToLong());
        json(primary, 200, "POST", "/v1/groups/g/demote", null);
        json(replica, 200, "POST", "/v1/groups/g/promote", null);
        json(replica, 404, "POST", "/v1/groups/nope/promote", null);
        json(primary, 204, "DELETE", "/v1/groups/g/replication", null);
        json(primary, 404, "GET", "/v1/groups/nope/replication", null);
        json(primary, 409, "DELETE", "/v1/groups/g", null); // demoted here: its volumes stay read-only
        json(primary, 200, "POST", "/v1/groups/g/promote", null);
    }
}

package cgw.api;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The REST API over real HTTP, on a real store in a temporary directory. */
@Timeout(60) // a hung exchange fails the test instead of the build
class RestServerTest {
    private static final String TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private BlockStore store;
    private RestServer server;
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @BeforeEach
    void start() {
        store = BlockStore.open(dir,
                StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false));
        server = RestServer.start(new InetSocketAddress("127.0.0.1", 0), store, TOKEN);
    }

    @AfterEach
    void stop() {
        server.close();
        store.close();
    }

    /** A volume as it reads once its allocated bytes are measured: nothing was written, so 0. */
    private static JsonNode measured(JsonNode volume) {
        return ((com.fasterxml.jackson.databind.node.ObjectNode) volume.deepCopy()).put("allocated", 0);
    }

    @Test
    void healthNeedsNoToken() throws Exception {
        HttpResponse<String> response = send("GET", "/healthz", null, null);
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValue("application/json");
        assertThat(json(response)).isEqualTo(JSON.readTree("{\"status\":\"ok\"}"));
    }

    @Test
    void everythingElseNeedsTheToken() throws Exception {
        HttpResponse<String> missing = send("GET", "/v1/volumes", null, null);
        assertError(missing, 401, "unauthorized", "missing 'Authorization: Bearer TOKEN' header");
        assertThat(missing.headers().firstValue("www-authenticate")).hasValue("Bearer");

        assertError(send("GET", "/v1/volumes", null, TOKEN.replace('0', '1')), 401, "unauthorized", "wrong API token");
        assertError(send("GET", "/v1/volumes", null, "short"), 401, "unauthorized", "wrong API token");
        // unknown routes do not reveal themselves without the token
        assertError(send("GET", "/v1/nothing", null, null), 401, "unauthorized", "missing");
    }

    @Test
    void createsListsShowsAndDeletesVolumes() throws Exception {
        HttpResponse<String> created = send("POST", "/v1/volumes", "{\"name\":\"vm1\",\"size\":\"4GiB\"}", TOKEN);
        assertThat(created.statusCode()).isEqualTo(201);
        assertThat(created.headers().firstValue("location")).hasValue("/v1/volumes/vm1");
        JsonNode volume = json(created);
        assertThat(volume.get("name").asText()).isEqualTo("vm1");
        assertThat(volume.get("size").asLong()).isEqualTo(4L << 30);
        assertThat(volume.get("createdAt").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z");
        assertThat(volume.get("parent").isNull()).isTrue();
        assertThat(volume.get("headEpoch").asLong()).isEqualTo(1);
        assertThat(volume.get("clients").isNull()).as("any client may open it").isTrue();
        assertThat(volume.get("group").isNull()).as("in no group").isTrue();
        assertThat(volume.get("connections").asInt()).isZero();
        assertThat(volume.get("allocated").isNull() || volume.get("allocated").asLong() == 0)
                .as("nothing measured yet, or nothing written: %s", volume.get("allocated")).isTrue();
        assertThat(volume.size()).isEqualTo(9);

        assertThat(send("POST", "/v1/volumes", "{\"name\":\"vm0\",\"size\":1048576}", TOKEN).statusCode())
                .isEqualTo(201);

        HttpResponse<String> list = send("GET", "/v1/volumes", null, TOKEN);
        assertThat(list.statusCode()).isEqualTo(200);
        assertThat(json(list).get("volumes").findValuesAsText("name")).containsExactly("vm0", "vm1");

        HttpResponse<String> shown = send("GET", "/v1/volumes/vm1", null, TOKEN);
        assertThat(shown.statusCode()).isEqualTo(200);
        // the same volume; "allocated" may have been measured in the background meanwhile (nothing written: 0)
        assertThat(measured(json(shown))).isEqualTo(measured(volume));

        HttpResponse<String> deleted = send("DELETE", "/v1/volumes/vm1", null, TOKEN);
        assertThat(deleted.statusCode()).isEqualTo(204);
        assertThat(deleted.body()).isEmpty();
        assertError(send("GET", "/v1/volumes/vm1", null, TOKEN), 404, "not_found", "no volume named vm1");
    }

    @Test
    void fractionsThatAreWholeBytesAreSizes() throws Exception {
        HttpResponse<String> created = send("POST", "/v1/volumes", "{\"name\":\"half\",\"size\":\"1.5KiB\"}", TOKEN);
        assertThat(created.statusCode()).isEqualTo(201);
        assertThat(json(created).get("size").asLong()).isEqualTo(1536);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "'\"-1\"'        | invalid size '-1': a size cannot be negative",
            "-1              | invalid size '-1': a size cannot be negative",
            "'\"0.3KiB\"'    | invalid size '0.3KiB': not a whole number of bytes",
            "'\"12XB\"'      | invalid size '12XB': unknown unit 'XB'",
            "1.5             | field 'size' must be a whole number of bytes",
            "true            | field 'size' must be a whole number of bytes",
            "1000            | invalid size 1000: must be a positive multiple of 512 bytes",
            "0               | invalid size 0: must be a positive multiple of 512 bytes",
            "'\"2PiB\"'      | invalid size 2251799813685248",
            "99999999999999999999 | invalid size '99999999999999999999': larger than",
    })
    void refusesBadSizes(String size, String detail) throws Exception {
        assertError(send("POST", "/v1/volumes", "{\"name\":\"vm\",\"size\":" + size + "}", TOKEN), 400, "bad_request",
                detail);
        assertThat(store.volumes()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"a@b", "", "a/b", "..",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"})
    void refusesBadNames(String name) throws Exception {
        assertThat(name.length() == 65 || name.length() < 5).isTrue();
        assertError(send("POST", "/v1/volumes", "{\"name\":\"" + name + "\",\"size\":4096}", TOKEN), 400, "bad_request",
                "invalid volume name '" + name + "'");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"name\":\"vm\",                  | malformed JSON",
            "not json                           | malformed JSON",
            "''                                 | the request body is empty",
            "[1,2]                              | the request body must be a JSON object",
            "{\"name\":5,\"size\":4096}         | field 'name' must be a string",
            "{\"size\":4096}                    | field 'name' is required",
            "{\"name\":\"vm\"}                  | field 'size' is required",
            "{\"name\":\"vm\",\"size\":null}    | field 'size' is required",
            "{\"name\":\"vm\",\"size\":4096,\"colour\":1} | unknown field 'colour' (known fields: clients, name, size)",
            "{\"name\":\"vm\",\"name\":\"vm2\",\"size\":4096} | malformed JSON: Duplicate field 'name'",
            "{\"name\":\"vm\",\"size\":4096} {} | malformed JSON: more content after the JSON value at column 27",
    })
    void refusesBadBodies(String body, String detail) throws Exception {
        assertError(send("POST", "/v1/volumes", body, TOKEN), 400, "bad_request", detail);
    }

    @Test
    void refusesDuplicatesAndUnknownVolumes() throws Exception {
        assertThat(send("POST", "/v1/volumes", "{\"name\":\"vm1\",\"size\":4096}", TOKEN).statusCode()).isEqualTo(201);
        assertError(send("POST", "/v1/volumes", "{\"name\":\"vm1\",\"size\":8192}", TOKEN), 409, "conflict",
                "volume vm1 already exists");
        assertError(send("GET", "/v1/volumes/nope", null, TOKEN), 404, "not_found", "no volume named nope");
        assertError(send("DELETE", "/v1/volumes/nope", null, TOKEN), 404, "not_found", "no volume named nope");
        assertError(send("GET", "/v1/nothing", null, TOKEN), 404, "not_found", "no route /v1/nothing");
    }

    @Test
    void wrongMethodOnAKnownRouteIs405() throws Exception {
        HttpResponse<String> response = send("PUT", "/v1/volumes/vm1", "{}", TOKEN);
        assertError(response, 405, "method_not_allowed", "PUT is not allowed on /v1/volumes/vm1");
        assertThat(response.headers().firstValue("allow")).hasValue("DELETE, GET, PATCH");
        assertError(send("POST", "/healthz", "{}", null), 405, "method_not_allowed", "POST is not allowed on /healthz");
    }

    @Test
    void bodyOverOneMebibyteIs413AndTheServerGoesOn() throws Exception {
        byte[] huge = new byte[2 << 20];
        HttpRequest request = HttpRequest.newBuilder(uri("/v1/volumes"))
                .header("Authorization", "Bearer " + TOKEN)
                .POST(BodyPublishers.ofByteArray(huge))
                .build();
        HttpResponse<String> response = client.send(request, BodyHandlers.ofString());
        assertError(response, 413, "payload_too_large", "the request body is larger than 1048576 bytes");
        assertThat(response.headers().firstValue("connection")).hasValue("close");
        assertThat(send("GET", "/healthz", null, null).statusCode()).isEqualTo(200);
    }

    @Test
    void bodyOverOneMebibyteWithExpectContinueIs413BeforeTheBodyIsSent() throws Exception {
        List<String> lines = exchange("POST /v1/volumes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN
                + "\r\nContent-Length: 2097152\r\nExpect: 100-continue\r\n\r\n");
        assertThat(lines.get(0)).isEqualTo("HTTP/1.1 413 Request Entity Too Large");
        assertThat(lines.get(lines.size() - 1)).contains("\"error\":\"payload_too_large\"");
    }

    /** Writes raw bytes on a fresh connection and reads every line until the server closes it. */
    private List<String> exchange(String raw) throws IOException {
        try (Socket socket = new Socket(server.address().getAddress(), server.address().getPort())) {
            OutputStream out = socket.getOutputStream();
            out.write(raw.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            BufferedReader in = new BufferedReader(
                    new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            List<String> lines = new ArrayList<>();
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                lines.add(line);
            }
            return lines;
        }
    }

    @Test
    void aBodyThatIsNotUtf8IsBadInputNotAnInternalError() throws Exception {
        byte[][] bodies = {{'{', (byte) 0xff, '}'}, {'{', '"', 'a', 0, 0, 0, '"', ':', '1', '}'},
                {0, 0, 0, '{', 0, 0, 0, '}'}};
        for (byte[] body : bodies) {
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(uri("/v1/snapshots"))
                    .header("Authorization", "Bearer " + TOKEN)
                    .POST(BodyPublishers.ofByteArray(body)).build(), BodyHandlers.ofString());
            assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
            assertThat(json(response).get("error").asText()).isEqualTo("bad_request");
        }
    }

    private HttpResponse<String> send(String method, String path, String body, String token) throws Exception {
        return new ApiTestClient(server.address().getPort()).send(method, path, body, token);
    }

    private URI uri(String path) {
        return new ApiTestClient(server.address().getPort()).uri(path);
    }

    private static JsonNode json(HttpResponse<String> response) throws IOException {
        return ApiTestClient.json(response);
    }

    private static void assertError(HttpResponse<String> response, int status, String error, String detail)
            throws IOException {
        ApiTestClient.assertError(response, status, error, detail);
    }
}

package cgw.api;

import static cgw.api.ApiTestClient.TOKEN;
import static cgw.api.ApiTestClient.assertError;
import static cgw.api.ApiTestClient.json;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Groups, group snapshots, ad-hoc snapshots and clones over real HTTP, on a real store. */
@Timeout(60)
class GroupSnapshotApiTest {
    @TempDir
    Path dir;

    private BlockStore store;
    private RestServer server;
    private ApiTestClient api;

    @BeforeEach
    void start() throws Exception {
        store = BlockStore.open(dir,
                StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false));
        server = RestServer.start(new InetSocketAddress("127.0.0.1", 0), store, TOKEN);
        api = new ApiTestClient(server.address().getPort());
        api.createVolumes("wal", "data", "other");
    }

    @AfterEach
    void stop() {
        server.close();
        store.close();
    }

    private HttpResponse<String> send(String method, String path, String body) throws Exception {
        return api.send(method, path, body, TOKEN);
    }

    private static List<String> texts(JsonNode array) {
        List<String> texts = new java.util.ArrayList<>();
        for (Iterator<JsonNode> it = array.elements(); it.hasNext();) {
            texts.add(it.next().asText());
        }
        return texts;
    }

    @Test
    void groupsAreCreatedListedChangedAndDeleted() throws Exception {
        HttpResponse<String> created = send("POST", "/v1/groups", "{\"name\":\"db\",\"volumes\":[\"wal\",\"data\"]}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(created.headers().firstValue("location")).hasValue("/v1/groups/db");
        assertThat(json(created))
                .isEqualTo(ApiTestClient.JSON.readTree("{\"name\":\"db\",\"volumes\":[\"wal\",\"data\"]}"));

        assertThat(texts(json(send("GET", "/v1/groups", null)).get("groups").findValue("volumes")))
                .containsExactly("wal", "data");
        HttpResponse<String> changed = send("PUT", "/v1/groups/db", "{\"volumes\":[\"data\",\"other\"]}");
        assertThat(changed.statusCode()).isEqualTo(200);
        assertThat(texts(json(send("GET", "/v1/groups/db", null)).get("volumes"))).containsExactly("data", "other");
        assertThat(send("DELETE", "/v1/groups/db", null).statusCode()).isEqualTo(204);
        assertError(send("GET", "/v1/groups/db", null), 404, "not_found", "no group named db");
    }

    @Test
    void aGroupSnapshotIsListedReadableAndClonable() throws Exception {
        Volume wal = store.volume("wal");
        store.write(wal, 0, ByteBuffer.wrap(new byte[]{1, 2, 3}));
        send("POST", "/v1/groups", "{\"name\":\"db\",\"volumes\":[\"wal\",\"data\"]}");

        HttpResponse<String> taken = send("POST", "/v1/groups/db/snapshots",
                "{\"label\":\"before upgrade\",\"timeoutMs\":5000}");
        assertThat(taken.statusCode()).as(taken.body()).isEqualTo(201);
        JsonNode snapshot = json(taken);
        long id = snapshot.get("id").asLong();
        assertThat(id).isPositive();
        assertThat(taken.headers().firstValue("location")).hasValue("/v1/snapshots/" + id);
        assertThat(snapshot.get("group").asText()).isEqualTo("db");
        assertThat(snapshot.get("label").asText()).isEqualTo("before upgrade");
        assertThat(snapshot.get("createdAt").asText()).matches("\\d{4}-\\d\\d-\\d\\dT.*Z");
        assertThat(texts(snapshot.get("volumes"))).containsExactlyInAnyOrder("wal", "data");
        assertThat(snapshot.get("freezeMicros").asLong()).isNotNegative();
        assertThat(snapshot.size()).isEqualTo(6);

        // an empty body is a snapshot with defaults; ad-hoc snapshots have no group
        long second = json(send("POST", "/v1/groups/db/snapshots", null)).get("id").asLong();
        HttpResponse<String> adHoc = send("POST", "/v1/snapshots", "{\"volumes\":[\"other\"]}");
        assertThat(adHoc.statusCode()).as(adHoc.body()).isEqualTo(201);
        assertThat(json(adHoc).get("group").isNull()).isTrue();
        assertThat(second).isGreaterThan(id);

        assertThat(json(send("GET", "/v1/snapshots?group=db", null)).get("snapshots").findValuesAsText("id"))
                .containsExactly(Long.toString(id), Long.toString(second));
        assertThat(json(send("GET", "/v1/snapshots", null)).get("snapshots")).hasSize(3);
        assertThat(json(send("GET", "/v1/snapshots/" + id, null))).isEqualTo(snapshot);

        store.write(wal, 0, ByteBuffer.wrap(new byte[]{9, 9, 9}));
        HttpResponse<String> cloned = send("POST", "/v1/snapshots/" + id + "/clone", "{\"prefix\":\"r1-\"}");
        assertThat(cloned.statusCode()).as(cloned.body()).isEqualTo(201);
        assertThat(json(cloned))
                .isEqualTo(ApiTestClient.JSON.readTree("{\"volumes\":{\"wal\":\"r1-wal\",\"data\":\"r1-data\"}}"));
        ByteBuffer head = ByteBuffer.allocate(3);
        store.read(store.volume("r1-wal"), 0, head);
        assertThat(head.array()).containsExactly(1, 2, 3);
        assertError(send("POST", "/v1/snapshots/" + id + "/clone", "{\"prefix\":\"r1-\"}"), 409, "conflict", "r1-");

        assertThat(send("DELETE", "/v1/snapshots/" + second, null).statusCode()).isEqualTo(204);
        assertError(send("GET", "/v1/snapshots/" + second, null), 404, "not_found", "no snapshot " + second);
        assertError(send("DELETE", "/v1/volumes/wal", null), 409, "conflict", "in group db");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "POST | /v1/groups                 | {\"name\":\"g\",\"volumes\":[\"nope\"]}        | 404 | no volume named nope",
            "POST | /v1/groups                 | {\"name\":\"g\",\"volumes\":[]}                | 400 | at least one volume",
            "POST | /v1/groups                 | {\"name\":\"g\"}                               | 400 | field 'volumes' is required",
            "POST | /v1/groups                 | {\"name\":\"g\",\"volumes\":[\"wal\",\"wal\"]} | 400 | listed twice",
            "POST | /v1/groups                 | {\"name\":\"g/h\",\"volumes\":[\"wal\"]}       | 400 | invalid group name",
            "POST | /v1/groups                 | {\"name\":\"db\",\"volumes\":[\"other\"]}      | 409 | group db already exists",
            "POST | /v1/groups                 | {\"name\":\"g\",\"volumes\":[\"data\"]}        | 409 | already in group db",
            "POST | /v1/groups                 | {\"name\":\"g\",\"volumes\":\"wal\"}           | 400 | field 'volumes' must be an array",
            "POST | /v1/groups                 | {\"name\":\"g\",\"volumes\":[\"wal\"]          | 400 | malformed JSON",
            "PUT  | /v1/groups/nope            | {\"volumes\":[\"wal\"]}                        | 404 | no group named nope",
            "POST | /v1/groups/nope/snapshots  | {}                                             | 404 | no group named nope",
            "POST | /v1/groups/db/snapshots    | {\"timeoutMs\":0}                              | 400 | timeoutMs",
            "POST | /v1/groups/db/snapshots    | {\"tag\":\"x\"}                                | 400 | unknown field 'tag'",
            "POST | /v1/snapshots              | {\"volumes\":[\"wal\",\"ghost\"]}              | 404 | no volume named ghost",
            "POST | /v1/snapshots              | {\"volumes\":[]}                               | 400 | at least one volume",
            "GET  | /v1/snapshots/abc          |                                                | 400 | positive integer",
            "GET  | /v1/snapshots/77           |                                                | 404 | no snapshot 77",
            "GET  | /v1/snapshots?group=nope   |                                                | 404 | no group named nope",
            "POST | /v1/snapshots/77/clone     | {\"prefix\":\"x-\"}                            | 404 | no snapshot 77",
    })
    void badRequestsGetAPreciseErrorAndChangeNothing(String method, String path, String body, int status, String detail)
            throws Exception {
        send("POST", "/v1/groups", "{\"name\":\"db\",\"volumes\":[\"wal\",\"data\"]}");
        String groupsBefore = send("GET", "/v1/groups", null).body();
        HttpResponse<String> response = send(method, path, body);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(json(response).get("detail").asText()).contains(detail);
        assertThat(send("GET", "/v1/groups", null).body()).isEqualTo(groupsBefore);
        assertThat(json(send("GET", "/v1/snapshots", null)).get("snapshots")).isEmpty();
        assertThat(store.retainedEpochs(store.volume("wal"))).isEmpty();
    }

    @Test
    void snapshotsNeedTheToken() throws Exception {
        assertError(api.send("POST", "/v1/snapshots", "{\"volumes\":[\"wal\"]}", null), 401, "unauthorized", "missing");
        assertError(api.send("POST", "/v1/groups", "{\"name\":\"g\",\"volumes\":[\"wal\"]}", TOKEN.replace('a', 'b')),
                401, "unauthorized", "wrong API token");
        assertThat(store.retainedEpochs(store.volume("wal"))).isEmpty();
    }
}

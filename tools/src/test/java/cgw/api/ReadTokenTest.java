package cgw.api;

import static cgw.api.ApiTestClient.TOKEN;
import static cgw.api.ApiTestClient.assertError;
import static cgw.api.ApiTestClient.json;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.barrier.GroupBarrier;
import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.VolumeInfo;
import cgw.tools.metrics.GatewayMetrics;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The read token over real HTTP: it may look (every GET, /metrics), never change anything. */
@Timeout(60)
class ReadTokenTest {
    private static final String READ = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    @TempDir
    Path dir;

    private BlockStore store;
    private GatewayMetrics metrics;
    private RestServer server;
    private ApiTestClient api;

    @BeforeEach
    void start() throws Exception {
        store = BlockStore.open(dir,
                StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false));
        GroupBarrier barrier = GroupBarrier.open(store);
        metrics = new GatewayMetrics(store);
        metrics.listenTo(barrier);
        Routes routes = RestApi.routes(store, barrier, volume -> 0);
        metrics.addTo(routes);
        server = RestServer.start(new InetSocketAddress("127.0.0.1", 0), routes, new ApiTokens(TOKEN, READ), null,
                Transport.best());
        api = new ApiTestClient(server.address().getPort());
        api.createVolumes("vm1");
    }

    @AfterEach
    void stop() {
        server.close();
        metrics.close();
        store.close();
    }

    @Test
    void readTokenGetsWhatTheApiTokenGets() throws Exception {
        for (String path : new String[]{"/v1/volumes", "/v1/volumes/vm1", "/v1/groups", "/v1/snapshots"}) {
            HttpResponse<String> asReader = api.send("GET", path, null, READ);
            HttpResponse<String> asAdmin = api.send("GET", path, null, TOKEN);
            assertThat(asReader.statusCode()).as(path + ": " + asReader.body()).isEqualTo(200);
            assertThat(json(asReader)).as(path).isEqualTo(json(asAdmin));
        }
        HttpResponse<String> scrape = api.send("GET", "/metrics", null, READ);
        assertThat(scrape.statusCode()).isEqualTo(200);
        assertThat(scrape.body()).contains("\ncgw_volumes 1.0\n");
        // an unknown route answers as it does for the API token: it exists for neither
        assertError(api.send("GET", "/v1/nothing", null, READ), 404, "not_found", "no route /v1/nothing");
    }

    @Test
    void readTokenChangesNothing() throws Exception {
        assertError(api.send("POST", "/v1/volumes", "{\"name\":\"vm2\",\"size\":\"1MiB\"}", READ), 403,
                "forbidden", "the read token may only GET; POST needs the API token (DATA/api-token)");
        assertError(api.send("DELETE", "/v1/volumes/vm1", null, READ), 403, "forbidden", "DELETE needs the API token");
        assertError(api.send("POST", "/v1/groups", "{\"name\":\"g\",\"volumes\":[\"vm1\"]}", READ), 403,
                "forbidden", "POST");
        assertError(api.send("POST", "/v1/snapshots", "{\"volumes\":[\"vm1\"]}", READ), 403, "forbidden", "POST");
        assertThat(store.volumes()).extracting(VolumeInfo::name).containsExactly("vm1");
        assertThat(json(api.send("GET", "/v1/snapshots", null, TOKEN)).get("snapshots").size()).isZero();
        assertThat(json(api.send("GET", "/v1/groups", null, TOKEN)).get("groups").size()).isZero();
    }

    @Test
    void aWrongTokenIsStillUnauthorized() throws Exception {
        assertError(api.send("GET", "/v1/volumes", null, READ.replace('f', 'e')), 401, "unauthorized",
                "wrong API token");
        assertError(api.send("POST", "/v1/volumes", "{}", READ.replace('f', 'e')), 401, "unauthorized",
                "wrong API token");
    }
}

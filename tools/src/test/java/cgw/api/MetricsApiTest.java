package cgw.api;

import static cgw.api.ApiTestClient.TOKEN;
import static cgw.api.ApiTestClient.assertError;
import static cgw.api.ApiTestClient.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import cgw.barrier.GroupBarrier;
import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.tools.metrics.GatewayMetrics;
import cgw.tools.metrics.Scrape;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code GET /metrics} over real HTTP, with the gateway's metrics on a real store and barrier. */
@Timeout(60)
class MetricsApiTest {
    @TempDir
    Path dir;

    private BlockStore store;
    private GroupBarrier barrier;
    private GatewayMetrics metrics;
    private RestServer server;
    private ApiTestClient api;
    /** While set, a volume deletion waits on it inside the barrier's volume lock (then is refused). */
    private volatile CountDownLatch deletionGate;
    private final CountDownLatch deleting = new CountDownLatch(1);

    @BeforeEach
    void start() throws Exception {
        store = BlockStore.open(dir,
                StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false));
        barrier = GroupBarrier.open(store);
        metrics = new GatewayMetrics(store);
        metrics.listenTo(barrier);
        Routes routes = RestApi.routes(store, barrier, this::attachments);
        metrics.addTo(routes);
        server = RestServer.start(new InetSocketAddress("127.0.0.1", 0), routes, TOKEN);
        api = new ApiTestClient(server.address().getPort());
        api.createVolumes("wal", "data", "other");
    }

    @AfterEach
    void stop() {
        server.close();
        metrics.close();
        barrier.close();
        store.close();
    }

    /** What the delete route asks: 0 connections, or (while {@link #deletionGate} is set) 1 after waiting on it. */
    private int attachments(String volume) {
        CountDownLatch gate = deletionGate;
        if (gate == null) {
            return 0;
        }
        deleting.countDown();
        try {
            gate.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 1;
    }

    private HttpResponse<String> send(String method, String path, String body) throws Exception {
        return api.send(method, path, body, TOKEN);
    }

    private Scrape scrape() throws Exception {
        HttpResponse<String> response = send("GET", "/metrics", null);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return new Scrape(response.body());
    }

    @Test
    void metricsNeedTheTokenAndArePrometheusText() throws Exception {
        assertError(api.send("GET", "/metrics", null, null), 401, "unauthorized", "missing");
        assertError(api.send("GET", "/metrics", null, TOKEN.replace('a', 'b')), 401, "unauthorized", "wrong API token");

        HttpResponse<String> response = send("GET", "/metrics", null);
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        assertThat(response.headers().firstValue("content-length"))
                .hasValue(Integer.toString(response.body().length()));
        assertThat(response.body()).contains("# TYPE cgw_barrier_freeze_seconds histogram\n",
                "# TYPE cgw_snapshots_taken_total counter\n", "# TYPE cgw_volumes gauge\n");
        Scrape scrape = new Scrape(response.body());
        assertThat(scrape.value("cgw_volumes")).isEqualTo(3);
        assertThat(scrape.value("cgw_store_gc_pending_tasks")).isZero();
        assertThat(scrape.value("cgw_barrier_freeze_seconds_count")).isZero();

        assertThat(send("DELETE", "/v1/volumes/other", null).statusCode()).isEqualTo(204);
        assertThat(scrape().value("cgw_volumes")).isEqualTo(2);
        assertThat(send("POST", "/metrics", null).statusCode()).isEqualTo(405);
    }

    /** Whole blocks written: appended the first time, overwritten in place after; a 4 KiB write is too short a run. */
    @Test
    void blocksWrittenAreCountedByWhatBecameOfThem() throws Exception {
        byte[] bytes = new byte[1 << 20];
        new Random(7).nextBytes(bytes);
        store.write(store.volume("data"), 0, ByteBuffer.wrap(bytes));
        store.write(store.volume("data"), 0, ByteBuffer.wrap(bytes));
        store.write(store.volume("data"), 4096, ByteBuffer.wrap(bytes, 0, 4096));
        Scrape scrape = scrape();
        assertThat(scrape.value(Scrape.series("cgw_store_blocks_written_total", "outcome", "appended_new")))
                .isEqualTo(256);
        assertThat(scrape.value(Scrape.series("cgw_store_blocks_written_total", "outcome", "in_place")))
                .isEqualTo(256);
        assertThat(scrape.value(Scrape.series("cgw_store_blocks_written_total", "outcome", "appended_short_run")))
                .isEqualTo(1);
        assertThat(scrape.value(Scrape.series("cgw_store_blocks_written_total", "outcome", "appended_fenced")))
                .isZero();
    }

    @Test
    void freezeHistogramAndSnapshotCountersFollowTheBarrier() throws Exception {
        assertThat(send("POST", "/v1/groups", "{\"name\":\"db\",\"volumes\":[\"wal\",\"data\"]}").statusCode())
                .isEqualTo(201);
        List<Long> freezesMicros = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            HttpResponse<String> taken = i % 2 == 0
                    ? send("POST", "/v1/groups/db/snapshots", null)
                    : send("POST", "/v1/snapshots", "{\"volumes\":[\"wal\"]}");
            assertThat(taken.statusCode()).as(taken.body()).isEqualTo(201);
            freezesMicros.add(json(taken).get("freezeMicros").asLong());
        }

        // busy: a deletion of the volume holds its barrier lock for the barrier's whole timeout
        deletionGate = new CountDownLatch(1);
        CompletableFuture<HttpResponse<String>> deletion = CompletableFuture.supplyAsync(() -> {
            try {
                return send("DELETE", "/v1/volumes/other", null);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(deleting.await(30, TimeUnit.SECONDS)).isTrue();
        HttpResponse<String> busy = send("POST", "/v1/snapshots", "{\"volumes\":[\"other\"],\"timeoutMs\":50}");
        assertThat(busy.statusCode()).as(busy.body()).isEqualTo(503);
        deletionGate.countDown();
        assertThat(deletion.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(409);

        // timeout: a write admitted before the barrier never finishes
        CountDownLatch stalled = new CountDownLatch(1);
        CompletableFuture<Void> stuck = barrier.gate(store.volume("data")).submit(true,
                epoch -> CompletableFuture.runAsync(() -> {
                    try {
                        stalled.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }));
        HttpResponse<String> timedOut = send("POST", "/v1/groups/db/snapshots", "{\"timeoutMs\":200}");
        assertThat(timedOut.statusCode()).as(timedOut.body()).isEqualTo(504);
        stalled.countDown();
        stuck.get(30, TimeUnit.SECONDS);

        // a refused request is no barrier
        assertThat(send("POST", "/v1/snapshots", "{\"volumes\":[\"ghost\"]}").statusCode()).isEqualTo(404);

        Scrape scrape = scrape();
        assertThat(scrape.value("cgw_snapshots_taken_total")).isEqualTo(6);
        assertThat(scrape.value("cgw_snapshots_failed_total", "reason", "busy")).isEqualTo(1);
        assertThat(scrape.value("cgw_snapshots_failed_total", "reason", "timeout")).isEqualTo(1);
        assertThat(scrape.value("cgw_snapshots_failed_total", "reason", "other")).isZero();

        assertThat(scrape.value("cgw_barrier_freeze_seconds_count")).isEqualTo(6);
        double sumSeconds = freezesMicros.stream().mapToLong(Long::longValue).sum() / 1e6;
        assertThat(scrape.value("cgw_barrier_freeze_seconds_sum")).isCloseTo(sumSeconds, within(1e-9));
        double maxSeconds = freezesMicros.stream().mapToLong(Long::longValue).max().orElseThrow() / 1e6;
        assertThat(scrape.value("cgw_barrier_freeze_seconds_max")).isCloseTo(maxSeconds, within(1e-9));
        // every published bound, each counting the freezes at or under it (cumulative)
        Map<Double, Double> buckets = scrape.buckets("cgw_barrier_freeze_seconds");
        assertThat(buckets.keySet()).containsExactly(1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
                2.5e-2, 5e-2, 1e-1, Double.POSITIVE_INFINITY);
        buckets.forEach((upperSeconds, count) -> assertThat(count).as("le=" + upperSeconds)
                .isEqualTo(freezesMicros.stream().filter(micros -> micros <= Math.round(upperSeconds * 1e6)).count()));
    }
}

package cgw.api;

import static cgw.api.ApiTestClient.TOKEN;
import static cgw.api.ApiTestClient.assertError;
import static cgw.api.ApiTestClient.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import cgw.api.jobs.BackupJobs;
import cgw.backup.BackupRoots;
import cgw.backup.JobOptions;
import cgw.backup.KeySource;
import cgw.backup.RepositoryAccess;
import cgw.backup.S3Settings;
import cgw.barrier.GroupBarrier;
import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Exports, restores and jobs over real HTTP, on a real store, into a real directory repository. */
@Timeout(60)
class BackupApiTest {
    @TempDir
    Path dir;

    private BlockStore store;
    private GroupBarrier barrier;
    private BackupJobs jobs;
    private RestServer server;
    private ApiTestClient api;
    private String target;

    @BeforeEach
    void start() throws Exception {
        store = BlockStore.open(dir.resolve("store"), StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20)
                .withBackgroundGc(false));
        barrier = GroupBarrier.open(store);
        jobs = new BackupJobs(2, 0, JobOptions.defaults().withThreads(2));
        Routes routes = RestApi.routes(store, barrier, volume -> 0);
        Files.createDirectories(dir.resolve("backups"));
        RestApi.addBackups(routes, store, barrier, jobs, new RepositoryAccess(S3Settings.defaults(), KeySource.none(),
                BackupRoots.of(List.of(dir.resolve("backups")))), "test");
        server = RestServer.start(new InetSocketAddress("127.0.0.1", 0), routes, TOKEN);
        api = new ApiTestClient(server.address().getPort());
        api.createVolumes("wal", "data", "other");
        target = "file://" + dir.resolve("backups").resolve("repo").toAbsolutePath();
    }

    @AfterEach
    void stop() {
        server.close();
        jobs.close();
        barrier.close();
        store.close();
    }

    private HttpResponse<String> send(String method, String path, String body) throws Exception {
        return api.send(method, path, body, TOKEN);
    }

    private long snapshot(String... volumes) throws Exception {
        HttpResponse<String> taken = send("POST", "/v1/snapshots",
                "{\"volumes\":[\"" + String.join("\",\"", volumes) + "\"]}");
        assertThat(taken.statusCode()).as(taken.body()).isEqualTo(201);
        return json(taken).get("id").asLong();
    }

    /** Polls the job until it ends, and returns how it ended. */
    private JsonNode awaitEnd(long job) {
        return await("job " + job + " ends").atMost(Duration.ofSeconds(50)).until(() -> {
            HttpResponse<String> shown = send("GET", "/v1/jobs/" + job, null);
            assertThat(shown.statusCode()).as(shown.body()).isEqualTo(200);
            return json(shown);
        }, view -> !view.get("state").asText().equals("running"));
    }

    private JsonNode export(long snapshot, String body) throws Exception {
        HttpResponse<String> accepted = send("POST", "/v1/snapshots/" + snapshot + "/export", body);
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        JsonNode job = json(accepted);
        assertThat(job.get("state").asText()).isIn("running", "done");
        assertThat(accepted.headers().firstValue("location")).hasValue("/v1/jobs/" + job.get("id").asLong());
        return awaitEnd(job.get("id").asLong());
    }

    @Test
    void anExportedSnapshotIsRestoredByteForByte() throws Exception {
        byte[] pattern = new byte[200_000];
        Arrays.fill(pattern, (byte) 0x5a);
        store.write(store.volume("wal"), 4096, ByteBuffer.wrap(pattern));
        long id = snapshot("wal", "data");

        JsonNode done = export(id, "{\"target\":\"" + target + "\"}");
        assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("done");
        assertThat(done.get("kind").asText()).isEqualTo("export");
        assertThat(done.get("bytesDone").asLong()).isEqualTo(done.get("bytesTotal").asLong()).isPositive();

        HttpResponse<String> accepted = send("POST", "/v1/restores",
                "{\"source\":\"" + target + "\",\"snapshot\":" + id + ",\"prefix\":\"r-\"}");
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        JsonNode restored = awaitEnd(json(accepted).get("id").asLong());
        assertThat(restored.get("state").asText()).as(restored.toString()).isEqualTo("done");
        Volume copy = store.volume("r-wal");
        ByteBuffer read = ByteBuffer.allocate(pattern.length);
        store.read(copy, 4096, read);
        assertThat(read.array()).isEqualTo(pattern);
        assertThat(store.volume("r-data")).isNotNull();

        assertError(
                send("POST", "/v1/restores",
                        "{\"source\":\"" + target + "\",\"snapshot\":" + id + ",\"prefix\":\"r-\"}"),
                409, "conflict", "volumes exist: r-wal, r-data");
        assertError(send("POST", "/v1/snapshots/" + id + "/export", "{\"target\":\"" + target + "\"}"),
                409, "conflict", "already in");
        assertError(send("DELETE", "/v1/jobs/" + json(accepted).get("id").asLong(), null), 409, "conflict",
                "already ended done");
    }

    @Test
    void anIncrementalExportNeedsAnOlderExportedSnapshotOfTheSameVolumes() throws Exception {
        long first = snapshot("wal", "data");
        long other = snapshot("other");
        long second = snapshot("wal", "data");
        assertError(send("POST", "/v1/snapshots/" + second + "/export",
                "{\"target\":\"" + target + "\",\"incrementalFrom\":" + first + "}"), 404, "not_found", "is not in");
        assertThat(export(first, "{\"target\":\"" + target + "\"}").get("state").asText()).isEqualTo("done");
        assertError(send("POST", "/v1/snapshots/" + second + "/export",
                "{\"target\":\"" + target + "\",\"incrementalFrom\":" + other + "}"), 400, "bad_request",
                "same volumes");
        assertError(send("POST", "/v1/snapshots/" + first + "/export",
                "{\"target\":\"" + target + "\",\"incrementalFrom\":" + second + "}"), 400, "bad_request",
                "older than");
        assertError(send("POST", "/v1/snapshots/" + second + "/export",
                "{\"target\":\"" + target + "\",\"incrementalFrom\":999}"), 404, "not_found", "999");
        JsonNode done = export(second, "{\"target\":\"" + target + "\",\"incrementalFrom\":" + first + "}");
        assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("done");
        assertThat(done.get("incrementalFrom").asLong()).isEqualTo(first);
    }

    @Test
    void badRequestsAreRefusedBeforeAnyJob() throws Exception {
        long id = snapshot("wal");
        assertError(send("POST", "/v1/snapshots/999/export", "{\"target\":\"" + target + "\"}"), 404, "not_found",
                "999");
        assertError(send("POST", "/v1/snapshots/" + id + "/export", "{\"target\":\"ftp://x/y\"}"), 400, "bad_request",
                "unknown target scheme");
        assertError(send("POST", "/v1/snapshots/" + id + "/export", "{\"target\":\"file://relative/dir\"}"), 400,
                "bad_request", "file:///absolute/dir");
        for (String s3 : new String[]{"s3://bucket:9000/p", "s3://key:secret@bucket/p", "s3://bucket/p?endpoint=x"}) {
            assertError(send("POST", "/v1/snapshots/" + id + "/export", "{\"target\":\"" + s3 + "\"}"), 400,
                    "bad_request", "the endpoint and credentials come from cgw serve's options");
        }
        assertError(send("POST", "/v1/snapshots/" + id + "/export", "{}"), 400, "bad_request", "'target' is required");
        assertError(send("POST", "/v1/restores", "{\"source\":\"" + target + "\",\"snapshot\":" + id + "}"), 400,
                "bad_request", "'prefix' is required");
        assertError(
                send("POST", "/v1/restores",
                        "{\"source\":\"" + target + "\",\"snapshot\":" + id + ",\"prefix\":\"p\"}"),
                400, "bad_request", "no backup repository");
        assertError(send("GET", "/v1/jobs/12345", null), 404, "not_found", "no job 12345");
        assertError(send("GET", "/v1/jobs/x", null), 400, "bad_request", "job id must be a positive integer");
        assertError(send("DELETE", "/v1/jobs/12345", null), 404, "not_found", "no job 12345");
    }

    @Test
    void repositoriesOutsideTheBackupRootsAreForbidden() throws Exception {
        long id = snapshot("wal");
        Path outside = dir.resolve("elsewhere");
        String escape = "file://" + dir.resolve("backups") + "/../elsewhere";
        Files.createSymbolicLink(dir.resolve("backups").resolve("link"), dir);
        String throughLink = "file://" + dir.resolve("backups").resolve("link").resolve("elsewhere");
        String climbsFromMissing = "file://" + dir.resolve("backups") + "/new/../../elsewhere";
        for (String where : List.of("file://" + outside, escape, throughLink, climbsFromMissing, "file:///etc")) {
            HttpResponse<String> refused = send("POST", "/v1/snapshots/" + id + "/export",
                    "{\"target\":\"" + where + "\"}");
            assertThat(refused.statusCode()).as(where + ": " + refused.body()).isEqualTo(403);
            assertThat(json(refused).get("error").asText()).isEqualTo("forbidden");
            HttpResponse<String> restore = send("POST", "/v1/restores",
                    "{\"source\":\"" + where + "\",\"snapshot\":" + id + ",\"prefix\":\"p\"}");
            assertThat(restore.statusCode()).as(where + ": " + restore.body()).isEqualTo(403);
        }
        assertError(send("POST", "/v1/snapshots/" + id + "/export", "{\"target\":\"file://" + outside + "\"}"), 403,
                "forbidden",
                "file://" + outside + " is outside the backup roots [" + dir.resolve("backups").toRealPath()
                        + "] (cgw serve --backup-root)");
        assertThat(outside).doesNotExist();
        assertThat(dir.resolve("backups").resolve("new")).doesNotExist();
        // a path inside that only looks odd is fine
        Files.createDirectories(dir.resolve("backups").resolve("a"));
        JsonNode done = export(id, "{\"target\":\"file://" + dir.resolve("backups") + "/a/../b\"}");
        assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("done");
        assertThat(dir.resolve("backups").resolve("b").resolve("config")).exists();
    }
}

package cgw.tests.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import cgw.tests.ExternalTool;
import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backups end to end, as an operator runs them: the {@code cgw serve} jar, volumes written by
 * qemu-io over NBD, a group snapshot exported to a directory repository with {@code cgw export},
 * restored under a prefix, and the restored volumes compared with {@code qemu-img compare} against
 * the snapshot's read-only {@code VOLUME@ID} exports; then an incremental export, a refused
 * restore, a cancelled job, and {@code cgw backup verify} finding a flipped byte.
 */
@Timeout(300)
class BackupEndToEndTest {
    private static final Map<String, String> NO_ENV = Map.of();

    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        ExternalTool.require("qemu-io", "qemu-utils");
        ExternalTool.require("qemu-img", "qemu-utils");
    }

    private GatewayProcess start(String... extraArgs) throws IOException {
        return GatewayProcess.start(dir.resolve("data"), dir.resolve("gateway.err"), extraArgs);
    }

    private static void createVolume(GatewayProcess gateway, String name, String size) throws Exception {
        gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"" + name + "\",\"size\":\"" + size + "\"}");
    }

    private static void write(GatewayProcess gateway, String volume, int pattern, String offset, String length) {
        ExternalTool.run("qemu-io", "-f", "raw", "-c", "write -P " + pattern + " " + offset + " " + length,
                gateway.nbdUri(volume)).assertSuccess();
    }

    private static long snapshot(GatewayProcess gateway, String... volumes) throws Exception {
        return gateway.call(201, "POST", "/v1/snapshots", "{\"volumes\":[\"" + String.join("\",\"", volumes) + "\"]}")
                .get("id").asLong();
    }

    /** Polls a job until it leaves {@code running}, and returns how it ended. */
    private static JsonNode awaitJob(GatewayProcess gateway, long job) {
        return awaitJob(gateway, job, "ends", view -> !view.get("state").asText().equals("running"));
    }

    /** Polls a job until its view passes {@code test}, and returns that view. */
    private static JsonNode awaitJob(GatewayProcess gateway, long job, String what, Predicate<JsonNode> test) {
        return await("job " + job + " " + what).atMost(Duration.ofMinutes(5))
                .until(() -> gateway.call(200, "GET", "/v1/jobs/" + job, null), test);
    }

    private static void assertSameContent(GatewayProcess gateway, String restored, String snapshotExport) {
        ExternalTool.run("qemu-img", "compare", "-f", "raw", "-F", "raw", gateway.nbdUri(restored),
                gateway.nbdUri(snapshotExport)).assertSuccess();
    }

    /** In {@code DATA/backups}, the one backup root a gateway without {@code --backup-root} allows. */
    private Path repositoryDir() {
        return dir.resolve("data").resolve("backups").resolve("repo");
    }

    private String repository() {
        return "file://" + repositoryDir().toAbsolutePath();
    }

    @Test
    void aGroupSnapshotIsExportedRestoredAndExportedAgainIncrementally() throws Exception {
        try (GatewayProcess gateway = start()) {
            createVolume(gateway, "wal", "4MiB");
            createVolume(gateway, "data", "4MiB");
            write(gateway, "wal", 0x11, "0", "1M");
            write(gateway, "data", 0x22, "64k", "512k");
            write(gateway, "data", 0x23, "3M", "256k");
            long first = snapshot(gateway, "wal", "data");

            ExternalTool.Result exported = gateway.cli(NO_ENV, "export", String.valueOf(first), repository())
                    .assertSuccess();
            assertThat(exported.stdout()).contains("done").contains("export");

            JsonNode restore = gateway.call(202, "POST", "/v1/restores",
                    "{\"source\":\"" + repository() + "\",\"snapshot\":" + first + ",\"prefix\":\"r1-\"}");
            assertThat(awaitJob(gateway, restore.get("id").asLong()).get("state").asText()).isEqualTo("done");
            assertSameContent(gateway, "r1-wal", "wal@" + first);
            assertSameContent(gateway, "r1-data", "data@" + first);

            write(gateway, "wal", 0x33, "512k", "1M");
            write(gateway, "data", 0x00, "64k", "64k");
            long second = snapshot(gateway, "wal", "data");
            JsonNode export = gateway.call(202, "POST", "/v1/snapshots/" + second + "/export",
                    "{\"target\":\"" + repository() + "\",\"incrementalFrom\":" + first + "}");
            JsonNode done = awaitJob(gateway, export.get("id").asLong());
            assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("done");
            assertThat(done.get("bytesTotal").asLong()).as("only changed chunks are examined").isLessThan(8L << 20);

            ExternalTool.Result restored = gateway.cli(NO_ENV, "restore", repository(), String.valueOf(second),
                    "--prefix", "r2-").assertSuccess();
            assertThat(restored.stdout()).contains("done");
            assertSameContent(gateway, "r2-wal", "wal@" + second);
            assertSameContent(gateway, "r2-data", "data@" + second);

            gateway.call(409, "POST", "/v1/restores",
                    "{\"source\":\"" + repository() + "\",\"snapshot\":" + second + ",\"prefix\":\"r2-\"}");
            ExternalTool.Result refused = gateway.cli(NO_ENV, "restore", repository(), String.valueOf(second),
                    "--prefix", "r1-");
            assertThat(refused.exitCode()).isEqualTo(1);
            assertThat(refused.stderr()).contains("409 conflict").contains("r1-wal");

            ExternalTool.Result verified = GatewayProcess.localCli(NO_ENV, "backup", "verify", repository())
                    .assertSuccess();
            assertThat(verified.stdout()).contains("2 manifests").contains("no problems found");
            assertThat(gateway.stop()).isZero();
        }
    }

    @Test
    void aCancelledExportEndsCancelledAndLeavesARepositoryThatVerifies() throws Exception {
        // 1 MiB/s shared by two job slots: the 4 MiB export runs for seconds, long enough to cancel
        try (GatewayProcess gateway = start("--backup-rate", "1MiB", "--log-level", "info")) {
            createVolume(gateway, "big", "8MiB");
            ExternalTool.run("qemu-io", "-f", "raw", "-c", "write -P 0x44 0 4M", gateway.nbdUri("big")).assertSuccess();
            long id = snapshot(gateway, "big");
            ExternalTool.Result started = gateway.cli(NO_ENV, "export", String.valueOf(id), repository(), "--no-wait",
                    "--json").assertSuccess();
            long job = GatewayProcessJson.read(started.stdout()).get("id").asLong();
            JsonNode cancelled = gateway.call(202, "DELETE", "/v1/jobs/" + job, null);
            assertThat(cancelled.get("id").asLong()).isEqualTo(job);
            JsonNode ended = awaitJob(gateway, job);
            assertThat(ended.get("state").asText()).as(ended.toString()).isEqualTo("cancelled");
            assertThat(ended.get("bytesDone").asLong()).isLessThan(ended.get("bytesTotal").asLong());
            gateway.call(409, "DELETE", "/v1/jobs/" + job, null);

            ExternalTool.Result shown = gateway.cli(NO_ENV, "job", "show", String.valueOf(job)).assertSuccess();
            assertThat(shown.stdout()).contains("cancelled");
            ExternalTool.Result verified = GatewayProcess.localCli(NO_ENV, "backup", "verify", repository())
                    .assertSuccess();
            assertThat(verified.stdout()).contains("0 manifests").contains("no problems found");

            // SIGTERM while an export runs: the job is cancelled, the gateway exits 0, the repository stays valid
            ExternalTool.Result again = gateway.cli(NO_ENV, "export", String.valueOf(id), repository(), "--no-wait",
                    "--json").assertSuccess();
            long running = GatewayProcessJson.read(again.stdout()).get("id").asLong();
            awaitJob(gateway, running, "has written something", view -> view.get("bytesDone").asLong() > 0);
            assertThat(gateway.stop()).isZero();
            assertThat(gateway.stderr()).contains("job " + running + " cancelled");
        }
        ExternalTool.Result afterStop = GatewayProcess.localCli(NO_ENV, "backup", "verify", repository())
                .assertSuccess();
        assertThat(afterStop.stdout()).contains("0 manifests").contains("no problems found");
    }

    @Test
    void anExportKilledHalfwayLeavesAValidRepositoryAndARerunCompletes() throws Exception {
        long id;
        try (GatewayProcess gateway = start("--backup-rate", "1MiB")) {
            createVolume(gateway, "big", "8MiB");
            ExternalTool.run("qemu-io", "-f", "raw", "-c", "write -P 0x47 0 8M", gateway.nbdUri("big")).assertSuccess();
            id = snapshot(gateway, "big");
            ExternalTool.Result started = gateway.cli(NO_ENV, "export", String.valueOf(id), repository(), "--no-wait",
                    "--json").assertSuccess();
            long job = GatewayProcessJson.read(started.stdout()).get("id").asLong();
            awaitJob(gateway, job, "has written chunks", view -> view.get("bytesDone").asLong() > 0);
            gateway.kill();
        }
        ExternalTool.Result afterKill = GatewayProcess.localCli(NO_ENV, "backup", "verify", repository())
                .assertSuccess();
        assertThat(afterKill.stdout()).contains("0 manifests").contains("no problems found");
        assertThat(temporaryFiles()).as("chunks the killed export wrote but never synced").isNotEmpty();

        try (GatewayProcess gateway = start()) {
            gateway.cli(NO_ENV, "export", String.valueOf(id), repository()).assertSuccess();
            gateway.cli(NO_ENV, "restore", repository(), String.valueOf(id), "--prefix", "r-").assertSuccess();
            assertSameContent(gateway, "r-big", "big@" + id);
            assertThat(gateway.stop()).isZero();
        }
        GatewayProcess.localCli(NO_ENV, "backup", "prune", repository(), "--keep-last", "1").assertSuccess();
        assertThat(temporaryFiles()).as("prune removes what interrupted writes left").isEmpty();
        ExternalTool.Result verified = GatewayProcess.localCli(NO_ENV, "backup", "verify", repository())
                .assertSuccess();
        assertThat(verified.stdout()).contains("no problems found");
    }

    private List<Path> temporaryFiles() throws IOException {
        try (Stream<Path> files = Files.walk(repositoryDir())) {
            return files.filter(p -> p.getFileName().toString().startsWith(".tmp-")).toList();
        }
    }

    @Test
    void verifyFindsAFlippedByteAndPruneKeepsTheNewest() throws Exception {
        try (GatewayProcess gateway = start()) {
            createVolume(gateway, "v", "2MiB");
            write(gateway, "v", 0x55, "0", "256k");
            long first = snapshot(gateway, "v");
            gateway.cli(NO_ENV, "export", String.valueOf(first), repository()).assertSuccess();
            write(gateway, "v", 0x66, "1M", "256k");
            long second = snapshot(gateway, "v");
            gateway.cli(NO_ENV, "export", String.valueOf(second), repository(), "--incremental-from",
                    String.valueOf(first)).assertSuccess();
            assertThat(gateway.stop()).isZero();
        }
        ExternalTool.Result pruned = GatewayProcess
                .localCli(NO_ENV, "backup", "prune", repository(), "--keep-last", "1")
                .assertSuccess();
        assertThat(pruned.stdout()).contains("deleted [");

        Path chunk;
        try (Stream<Path> files = Files.walk(repositoryDir().resolve("chunks"))) {
            chunk = files.filter(Files::isRegularFile).sorted().findFirst().orElseThrow();
        }
        try (RandomAccessFile file = new RandomAccessFile(chunk.toFile(), "rw")) {
            file.seek(file.length() / 2);
            int b = file.read();
            file.seek(file.length() / 2);
            file.write(b ^ 0x01);
        }
        ExternalTool.Result verified = GatewayProcess.localCli(NO_ENV, "backup", "verify", repository());
        assertThat(verified.exitCode()).as(verified.stdout() + verified.stderr()).isEqualTo(1);
        assertThat(verified.stdout()).contains("corrupt").contains(repositoryDir().relativize(chunk).toString());
        assertThat(List.of(verified.stdout().split("\n"))).hasSizeGreaterThan(2);
    }
}

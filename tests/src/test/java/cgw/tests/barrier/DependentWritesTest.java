package cgw.tests.barrier;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool;
import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proof that group snapshots are crash-consistent, with real NBD clients: writers issue
 * chains of dependent writes (each only after the previous one's reply) that alternate across the
 * group's volumes and hop between NBD connections, while a scheduler takes group snapshots over
 * REST every ~10 ms. Every snapshot must hold a prefix of every chain: if write n is in it, so
 * are writes 0..n-1. The writers and the check are {@code dependent_writes.py} (libnbd).
 */
@Timeout(600)
class DependentWritesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> VOLUMES = List.of("da", "db", "dc");
    private static final int WRITERS = 4;
    private static final int SNAPSHOTS = 500;

    @TempDir
    Path dir;

    @Test
    void everySnapshotHoldsAPrefixOfEveryChain() throws Exception {
        Path script = script();
        ExternalTool.require("/usr/bin/python3", "python3");
        ExternalTool.require("nbdsh", "python3-libnbd");
        try (GatewayProcess gateway = GatewayProcess.start(dir.resolve("data"), dir.resolve("gateway.err"))) {
            for (String volume : VOLUMES) {
                gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"" + volume + "\",\"size\":\"256MiB\"}");
            }
            gateway.call(201, "POST", "/v1/groups", "{\"name\":\"chains\",\"volumes\":[\"da\",\"db\",\"dc\"]}");

            Process writers = new ProcessBuilder("/usr/bin/python3", script.toString(), "write",
                    Integer.toString(gateway.nbdPort), String.join(",", VOLUMES), Integer.toString(WRITERS))
                    .redirectError(dir.resolve("writers.err").toFile()).start();
            CompletableFuture<String> writerOutput = readAll(writers.getInputStream());
            List<Long> ids = new ArrayList<>();
            List<Long> freezes = new ArrayList<>();
            try {
                // every chain got going: each writer holds two connections to every volume
                gateway.awaitMetric("cgw_nbd_connections " + (double) (WRITERS * 2 * VOLUMES.size()));
                for (int i = 0; i < SNAPSHOTS && writers.isAlive(); i++) {
                    JsonNode snapshot = gateway.call(201, "POST", "/v1/groups/chains/snapshots",
                            "{\"timeoutMs\":5000}");
                    ids.add(snapshot.get("id").asLong());
                    freezes.add(snapshot.get("freezeMicros").asLong());
                    Thread.sleep(10); // the scenario: a snapshot every ~10 ms, with writes between them
                }
            } finally {
                writers.getOutputStream().close(); // the writers stop at the end of their stdin
            }
            assertThat(writers.waitFor(60, TimeUnit.SECONDS)).isTrue();
            JsonNode written = JSON.readTree(writerOutput.get(10, TimeUnit.SECONDS));
            assertThat(writers.exitValue()).as(Files.readString(dir.resolve("writers.err"))).isZero();
            assertThat(written.get("errors")).as("writer errors").isEmpty();
            assertThat(ids).hasSize(SNAPSHOTS);
            List<Long> last = new ArrayList<>();
            written.get("writers").forEach(n -> last.add(n.asLong()));
            assertThat(last).as("every chain made progress").allMatch(n -> n > 100);

            ExternalTool.Result check = ExternalTool.run("/usr/bin/python3", script.toString(), "verify",
                    Integer.toString(gateway.nbdPort), String.join(",", VOLUMES), Integer.toString(WRITERS),
                    join(last), join(ids), "50").assertSuccess();
            JsonNode report = JSON.readTree(check.stdout());
            assertThat(report.get("checked").asInt()).isEqualTo(SNAPSHOTS);
            JsonNode violations = report.get("violations");
            List<String> first = new ArrayList<>();
            violations.forEach(v -> {
                if (first.size() < 10) {
                    first.add(v.toString());
                }
            });
            assertThat(violations.size()).as("snapshots holding a write without one before it, first: " + first)
                    .isZero();
            // the check is not vacuous: snapshots caught chains mid-way, at many different points
            JsonNode prefixes = report.get("prefixes");
            long distinct = 0;
            for (int w = 0; w < WRITERS; w++) {
                java.util.Set<Long> seen = new java.util.HashSet<>();
                for (JsonNode p : prefixes) {
                    seen.add(p.get(w).asLong());
                }
                distinct = Math.max(distinct, seen.size());
            }
            assertThat(distinct).as("distinct prefixes of one chain across snapshots").isGreaterThan(SNAPSHOTS / 5);
            freezes.sort(null);
            System.out.printf("dependent writes: %d snapshots, chains %s, freeze p50 %d us, p99 %d us, max %d us%n",
                    SNAPSHOTS, last, freezes.get(freezes.size() / 2), freezes.get(freezes.size() * 99 / 100),
                    freezes.get(freezes.size() - 1));
            assertThat(gateway.stop()).isZero();
        }
    }

    private static String join(List<Long> values) {
        return values.stream().map(String::valueOf).collect(Collectors.joining(","));
    }

    private Path script() throws IOException {
        Path script = dir.resolve("dependent_writes.py");
        try (InputStream in = DependentWritesTest.class.getResourceAsStream("dependent_writes.py")) {
            Files.copy(in, script);
        }
        return script;
    }

    private static CompletableFuture<String> readAll(InputStream stream) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }
}

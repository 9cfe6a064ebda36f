package cgw.tests.replication;

import static cgw.tests.replication.ReplicaPair.awaitShippedFromNow;
import static cgw.tests.replication.ReplicaPair.awaitStatus;
import static cgw.tests.replication.ReplicaPair.createGroup;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.Campaign;
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
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proof that replication keeps a group crash-consistent at the other site: writers issue
 * chains of dependent writes across the group's volumes on the primary (dependent_writes.py, the
 * barrier's own check) while it ships an epoch every 200 ms; every snapshot on the replica must
 * hold a prefix of every chain. The negative control replicates each volume as a group of its
 * own, on schedules of its own: pairing their epochs breaks the chains, and the check sees it.
 */
@Timeout(900)
class ChainsOverReplicationTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int WRITERS = 3;
    private static final int EPOCHS = Campaign.pick(60, 300);

    @TempDir
    Path dir;

    @Test
    void everyReplicatedEpochHoldsAPrefixOfEveryChain() throws Exception {
        try (GatewayProcess a = GatewayProcess.start(dir.resolve("a"), dir.resolve("a.err"));
                GatewayProcess b = GatewayProcess.start(dir.resolve("b"), dir.resolve("b.err"))) {
            createGroup(a, "chains", "da:256MiB", "db:256MiB", "dc:256MiB");
            List<String> ids = runChains(a, b, List.of("da", "db", "dc"), List.of("chains"), List.of(200L));
            JsonNode report = verify(b, List.of("da", "db", "dc"), ids);
            assertThat(report.get("violations")).as("replicated epochs holding a write without one before it")
                    .isEmpty();
            assertThat(distinctPrefixes(report)).as("distinct prefixes of a chain across epochs (not vacuous)")
                    .isGreaterThan(EPOCHS / 5);
        }
    }

    @Test
    void volumesReplicatedOnSchedulesOfTheirOwnAreCaught() throws Exception {
        try (GatewayProcess a = GatewayProcess.start(dir.resolve("a"), dir.resolve("a.err"));
                GatewayProcess b = GatewayProcess.start(dir.resolve("b"), dir.resolve("b.err"))) {
            createGroup(a, "ga", "ea:256MiB");
            createGroup(a, "gb", "eb:256MiB");
            createGroup(a, "gc", "ec:256MiB");
            List<String> ids = runChains(a, b, List.of("ea", "eb", "ec"), List.of("ga", "gb", "gc"),
                    List.of(200L, 230L, 270L));
            JsonNode report = verify(b, List.of("ea", "eb", "ec"), ids);
            assertThat(report.get("violations").size()).as("violations when each volume ships on its own").isPositive();
        }
    }

    /**
     * Runs the writers on {@code volumes} of the primary while each group ships at its interval,
     * until the replica holds {@link #EPOCHS} epochs of each; returns the replica's snapshots as
     * the check takes them: the k-th epoch of every group, joined by '/' when there are several.
     */
    private List<String> runChains(GatewayProcess a, GatewayProcess b, List<String> volumes, List<String> groups,
            List<Long> intervals) throws Exception {
        Path script = script();
        ExternalTool.require("/usr/bin/python3", "python3");
        ExternalTool.require("nbdsh", "python3-libnbd");
        Process writers = new ProcessBuilder("/usr/bin/python3", script.toString(), "write",
                Integer.toString(a.nbdPort), String.join(",", volumes), Integer.toString(WRITERS))
                .redirectError(dir.resolve("writers.err").toFile()).start();
        CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(writers.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        List<List<Long>> perGroup = new ArrayList<>();
        try {
            a.awaitMetric("cgw_nbd_connections " + (double) (WRITERS * 2 * volumes.size()));
            for (int i = 0; i < groups.size(); i++) {
                a.call(200, "PUT", "/v1/groups/" + groups.get(i) + "/replication", "{\"target\":\"http://127.0.0.1:"
                        + b.restPort + "\",\"targetToken\":\"" + b.token() + "\",\"intervalMs\":" + intervals.get(i)
                        + ",\"keep\":1000}");
            }
            for (String group : groups) {
                awaitStatus(b, group, EPOCHS + " epochs", s -> s.path("epochs").asLong() >= EPOCHS,
                        java.time.Duration.ofSeconds(60 + EPOCHS));
            }
        } finally {
            writers.getOutputStream().close();
        }
        assertThat(writers.waitFor(60, TimeUnit.SECONDS)).isTrue();
        JsonNode written = JSON.readTree(output.get(10, TimeUnit.SECONDS));
        assertThat(writers.exitValue()).as(Files.readString(dir.resolve("writers.err"))).isZero();
        assertThat(written.get("errors")).as("writer errors").isEmpty();
        for (String group : groups) {
            awaitShippedFromNow(a, group); // the chains' ends are on the replica too
        }
        Files.writeString(dir.resolve("final"), written.get("writers").toString());
        for (String group : groups) {
            List<Long> ids = new ArrayList<>();
            b.call(200, "GET", "/v1/snapshots?group=" + group, null).get("snapshots")
                    .forEach(s -> ids.add(s.get("id").asLong()));
            perGroup.add(ids);
        }
        int epochs = perGroup.stream().mapToInt(List::size).min().orElseThrow();
        assertThat(epochs).isGreaterThanOrEqualTo(EPOCHS);
        List<String> joined = new ArrayList<>();
        for (int k = 0; k < epochs; k++) {
            List<String> parts = new ArrayList<>();
            for (List<Long> ids : perGroup) {
                parts.add(Long.toString(ids.get(k)));
            }
            joined.add(String.join("/", parts));
        }
        return joined;
    }

    private JsonNode verify(GatewayProcess replica, List<String> volumes, List<String> ids) throws Exception {
        JsonNode finals = JSON.readTree(Files.readString(dir.resolve("final")));
        List<String> last = new ArrayList<>();
        finals.forEach(n -> last.add(n.asText()));
        assertThat(finals).as("every chain made progress").allMatch(n -> n.asLong() > 50);
        ExternalTool.Result check = ExternalTool.run("/usr/bin/python3", script().toString(), "verify",
                Integer.toString(replica.nbdPort), String.join(",", volumes), Integer.toString(WRITERS),
                String.join(",", last), String.join(",", ids), "25").assertSuccess();
        JsonNode report = JSON.readTree(check.stdout());
        assertThat(report.get("checked").asInt()).isEqualTo(ids.size());
        System.out.printf("chains over replication: %d epochs checked, chains %s, %d violations%n", ids.size(), last,
                report.get("violations").size());
        return report;
    }

    private static long distinctPrefixes(JsonNode report) {
        long distinct = 0;
        for (int w = 0; w < WRITERS; w++) {
            Set<Long> seen = new HashSet<>();
            for (JsonNode prefix : report.get("prefixes")) {
                seen.add(prefix.get(w).asLong());
            }
            distinct = Math.max(distinct, seen.size());
        }
        return distinct;
    }

    private Path script() throws IOException {
        Path script = dir.resolve("dependent_writes.py");
        if (!Files.exists(script)) {
            try (InputStream in = ChainsOverReplicationTest.class
                    .getResourceAsStream("/cgw/tests/barrier/dependent_writes.py")) {
                Files.copy(in, script);
            }
        }
        return script;
    }
}

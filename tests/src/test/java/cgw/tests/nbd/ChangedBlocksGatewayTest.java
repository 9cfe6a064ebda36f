package cgw.tests.nbd;

import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static cgw.tests.ExternalTool.runWithEnvironment;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cgw:changed-since:ID} on a real gateway, with its snapshot IDs: an incremental backup
 * that reads only the changed extents and ends byte-equal, qemu's {@code x-dirty-bitmap} reading
 * the same context, clones reporting changes relative to their parent's snapshot, and bad IDs
 * refused at negotiation with the reason.
 */
class ChangedBlocksGatewayTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    @BeforeEach
    void tools() {
        require("nbdinfo", "libnbd-bin");
        require("nbdcopy", "libnbd-bin");
        require("nbdsh", "python3-libnbd");
        require("qemu-img", "qemu-utils");
        require("qemu-io", "qemu-utils");
    }

    private GatewayProcess start() throws IOException {
        return GatewayProcess.start(dir.resolve("data"), dir.resolve("gateway.err"));
    }

    private static void createVolume(GatewayProcess gateway, String name, String size) throws Exception {
        gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"" + name + "\",\"size\":\"" + size + "\"}");
    }

    private static long snapshot(GatewayProcess gateway, String... volumes) throws Exception {
        return gateway.call(201, "POST", "/v1/snapshots", "{\"volumes\":[\"" + String.join("\",\"", volumes) + "\"]}")
                .get("id").asLong();
    }

    private static void qemuIo(GatewayProcess gateway, String export, String... commands) {
        List<String> command = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (String c : commands) {
            command.add("-c");
            command.add(c);
        }
        command.add(gateway.nbdUri(export));
        run(command.toArray(String[]::new)).assertSuccess();
    }

    @Test
    void incrementalCopyReadsOnlyTheChangedExtentsAndEndsByteEqual() throws Exception {
        try (GatewayProcess gateway = start()) {
            createVolume(gateway, "db", "64MiB");
            qemuIo(gateway, "db", "write -P 0x11 0 24M", "write -P 0x12 40M 8M");
            long full = snapshot(gateway, "db");
            Path image = dir.resolve("db.img");
            run("nbdcopy", gateway.nbdUri("db@" + full), image.toString()).assertSuccess();

            long seed = System.nanoTime();
            Random random = new Random(seed);
            List<String> changes = new ArrayList<>();
            long changedBytes = 0;
            for (int i = 0; i < 30; i++) {
                long length = 1 + random.nextInt(256 << 10);
                long offset = random.nextLong((64L << 20) - length);
                String op = switch (i % 5) {
                    case 3 -> "write -z " + offset + " " + length;
                    case 4 -> "discard " + offset + " " + length;
                    default -> "write -P " + (1 + random.nextInt(250)) + " " + offset + " " + length;
                };
                changes.add(op);
                changedBytes += length;
            }
            qemuIo(gateway, "db", changes.toArray(String[]::new));
            long incremental = snapshot(gateway, "db");
            double readBefore = readBytes(gateway, "db");

            JsonNode copy = JSON.readTree(run("/usr/bin/python3", ChangedBlocksMapTest.script(dir).toString(), "copy",
                    gateway.nbdUri("db@" + incremental), String.valueOf(full), image.toString()).assertSuccess()
                    .stdout());
            long bytesRead = copy.get("bytesRead").asLong();
            long extents = copy.get("extents").asLong();
            assertThat(readBytes(gateway, "db") - readBefore).as("the gateway served only those reads")
                    .isEqualTo((double) bytesRead);
            Path expected = dir.resolve("expected.img");
            run("nbdcopy", gateway.nbdUri("db@" + incremental), expected.toString()).assertSuccess();
            assertThat(Files.mismatch(image, expected)).as("incremental copy (seed %s) is byte-equal", seed)
                    .isEqualTo(-1L);
            assertThat(bytesRead).as("bytes read for %s bytes changed in %s extents", changedBytes, extents)
                    .isPositive().isLessThanOrEqualTo(changedBytes + 2 * BLOCK * (long) changes.size());

            // qemu's x-dirty-bitmap reads the same context: its "data": false runs are the changed ones
            JsonNode qemuMap = JSON.readTree(run("qemu-img", "map", "--output=json", "--image-opts",
                    "driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=" + gateway.nbdPort
                            + ",export=db@" + incremental + ",x-dirty-bitmap=cgw:changed-since:" + full)
                    .assertSuccess().stdout());
            long qemuDirty = 0;
            for (JsonNode run : qemuMap) {
                if (!run.get("data").asBoolean()) {
                    qemuDirty += run.get("length").asLong();
                }
            }
            assertThat(qemuDirty).as("qemu's dirty bytes").isEqualTo(bytesRead);
        }
    }

    @Test
    void clonesReportChangesRelativeToTheirParentsSnapshot() throws Exception {
        try (GatewayProcess gateway = start()) {
            createVolume(gateway, "vm", "16MiB");
            qemuIo(gateway, "vm", "write -P 0x21 0 4M");
            long older = snapshot(gateway, "vm");
            qemuIo(gateway, "vm", "write -P 0x22 8M 64k");
            long base = snapshot(gateway, "vm");
            qemuIo(gateway, "vm", "write -P 0x23 12M 64k"); // the parent's later writes are not the clone's
            gateway.call(201, "POST", "/v1/snapshots/" + base + "/clone", "{\"prefix\":\"drill-\"}");
            qemuIo(gateway, "drill-vm", "write -P 0x24 1M 8k", "write -P 0x25 15M 100");

            assertThat(changedRuns(gateway, "drill-vm", base)).containsExactly(
                    List.of(1L << 20, 8L << 10), List.of(15L << 20, (long) BLOCK));
            assertThat(changedRuns(gateway, "drill-vm", older)).containsExactly(
                    List.of(1L << 20, 8L << 10), List.of(8L << 20, 64L << 10), List.of(15L << 20, (long) BLOCK));
            assertThat(changedRuns(gateway, "vm", base)).containsExactly(List.of(12L << 20, 64L << 10));
        }
    }

    @Test
    void badSnapshotIdsAreRefusedAtNegotiationWithTheReason() throws Exception {
        try (GatewayProcess gateway = start()) {
            createVolume(gateway, "a", "4MiB");
            createVolume(gateway, "b", "4MiB");
            long first = snapshot(gateway, "a");
            long second = snapshot(gateway, "a");
            long others = snapshot(gateway, "b");
            assertRefused(gateway, "a", "999", "no snapshot 999 on this gateway");
            assertRefused(gateway, "a", "x", "no snapshot x on this gateway");
            assertRefused(gateway, "a@" + first, String.valueOf(second),
                    "snapshot " + second + " is newer than export 'a@" + first + "'");
            assertRefused(gateway, "a", String.valueOf(others), "snapshot " + others + " does not hold volume a");
            // a good ID on the same gateway still answers
            assertThat(changedRuns(gateway, "a", first)).isEmpty();
        }
    }

    private static void assertRefused(GatewayProcess gateway, String export, String snapshot, String reason) {
        var map = runWithEnvironment(Map.of("LIBNBD_DEBUG", "1"), "nbdinfo", "--map=cgw:changed-since:" + snapshot,
                gateway.nbdUri(export));
        assertThat(map.exitCode()).as("nbdinfo of %s since %s", export, snapshot).isNotZero();
        assertThat(map.stderr()).contains("server error message: " + reason);
    }

    /** The changed runs (offset, length) of {@code export} since {@code snapshot}, from nbdinfo. */
    private static List<List<Long>> changedRuns(GatewayProcess gateway, String export, long snapshot) {
        return ChangedBlocksMapTest.nbdinfoRuns(run("nbdinfo", "--map=cgw:changed-since:" + snapshot,
                gateway.nbdUri(export)).assertSuccess().stdout()).stream()
                .filter(run -> (run.get(2) & 1) != 0).map(run -> run.subList(0, 2)).toList();
    }

    private static double readBytes(GatewayProcess gateway, String volume) throws Exception {
        String scrape = gateway.rest("GET", "/metrics", null).body();
        Matcher m = Pattern.compile("^cgw_nbd_bytes_total\\{op=\"read\",volume=\"" + volume + "\"} (\\S+)$",
                Pattern.MULTILINE).matcher(scrape);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }
}

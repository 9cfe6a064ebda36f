package cgw.tests.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import cgw.tests.ExternalTool;
import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Predicate;

/**
 * Two real gateways on this machine for the replication suites: what the tests do to them through
 * REST and real NBD clients, and the checks a user would make (qemu-img compare, nbdinfo --map).
 */
final class ReplicaPair {
    static final Duration WITHIN = Duration.ofSeconds(60);
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    private ReplicaPair() {
    }

    /** Creates volumes {@code NAME:SIZE...} and a group of them on {@code gateway}. */
    static void createGroup(GatewayProcess gateway, String group, String... volumes)
            throws IOException, InterruptedException {
        StringBuilder names = new StringBuilder();
        for (String volume : volumes) {
            String[] nameSize = volume.split(":");
            gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"" + nameSize[0] + "\",\"size\":\"" + nameSize[1]
                    + "\"}");
            names.append(names.length() == 0 ? "" : ",").append('"').append(nameSize[0]).append('"');
        }
        gateway.call(201, "POST", "/v1/groups", "{\"name\":\"" + group + "\",\"volumes\":[" + names + "]}");
    }

    /** Starts shipping {@code group} from {@code primary} to {@code replica}. */
    static JsonNode replicate(GatewayProcess primary, GatewayProcess replica, String group, long intervalMs, int keep)
            throws IOException, InterruptedException {
        return primary.call(200, "PUT", "/v1/groups/" + group + "/replication",
                "{\"target\":\"http://127.0.0.1:" + replica.restPort + "\",\"targetToken\":\"" + replica.token()
                        + "\",\"intervalMs\":" + intervalMs + ",\"keep\":" + keep + "}");
    }

    static JsonNode status(GatewayProcess gateway, String group) throws IOException, InterruptedException {
        return gateway.call(200, "GET", "/v1/groups/" + group + "/replication", null);
    }

    /** Waits until {@code gateway}'s status of {@code group} passes {@code check}; returns it. */
    static JsonNode awaitStatus(GatewayProcess gateway, String group, String what, Predicate<JsonNode> check) {
        return awaitStatus(gateway, group, what, check, WITHIN);
    }

    /** As above, waiting up to {@code within}. */
    static JsonNode awaitStatus(GatewayProcess gateway, String group, String what, Predicate<JsonNode> check,
            Duration within) {
        JsonNode[] last = new JsonNode[1];
        await(group + " on port " + gateway.restPort + ": " + what).atMost(within).pollInterval(Duration.ofMillis(100))
                .until(() -> {
                    java.net.http.HttpResponse<String> answer = gateway.rest("GET",
                            "/v1/groups/" + group + "/replication", null);
                    if (answer.statusCode() != 200) {
                        return false; // a replica knows the group once the first epoch began
                    }
                    last[0] = JSON.readTree(answer.body());
                    return check.test(last[0]);
                });
        return last[0];
    }

    /** Waits until an epoch cut after this call is complete on the replica; returns the primary's status then. */
    static JsonNode awaitShippedFromNow(GatewayProcess primary, String group) throws IOException, InterruptedException {
        long now = System.currentTimeMillis();
        return awaitStatus(primary, group, "an epoch cut after " + now + " complete on the replica",
                s -> s.has("lastSnapshotAt") && java.time.Instant.parse(s.get("lastSnapshotAt").asText())
                        .toEpochMilli() > now);
    }

    /** qemu-io commands against an export; the result, for the caller to check. */
    static ExternalTool.Result qemuIo(GatewayProcess gateway, String export, String... commands) {
        List<String> argv = new java.util.ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (String command : commands) {
            argv.add("-c");
            argv.add(command);
        }
        argv.add(gateway.nbdUri(export));
        return ExternalTool.run(argv.toArray(String[]::new));
    }

    /**
     * Asserts two exports read the same bytes and hold data in the same places. Where they read as
     * zeros they may differ in kind: the store never allocates to write zeros, so a range zeroed
     * over data on the primary is a zero extent there and a hole on the replica.
     */
    static void assertSame(GatewayProcess a, String exportA, GatewayProcess b, String exportB) {
        ExternalTool.run("qemu-img", "compare", "-f", "raw", "-F", "raw", a.nbdUri(exportA), b.nbdUri(exportB))
                .assertSuccess();
        assertThat(dataExtents(b, exportB)).as("data extents of " + exportB + " against " + exportA)
                .isEqualTo(dataExtents(a, exportA));
    }

    /** The ranges {@code nbdinfo --map} reports as data, merged: "offset+length" each. */
    static List<String> dataExtents(GatewayProcess gateway, String export) {
        List<String> ranges = new java.util.ArrayList<>();
        long start = -1;
        long end = -1;
        for (String line : ExternalTool.run("nbdinfo", "--map", gateway.nbdUri(export)).assertSuccess().stdout()
                .split("\n")) {
            String[] fields = line.trim().split("\\s+");
            if (fields.length < 3 || Integer.parseInt(fields[2]) != 0) {
                continue; // a hole or zeros (bits 0 and 1): not data
            }
            long offset = Long.parseLong(fields[0]);
            long length = Long.parseLong(fields[1]);
            if (offset == end) {
                end += length;
                continue;
            }
            if (start >= 0) {
                ranges.add(start + "+" + (end - start));
            }
            start = offset;
            end = offset + length;
        }
        if (start >= 0) {
            ranges.add(start + "+" + (end - start));
        }
        return ranges;
    }

    /** Writes {@code mib} MiB of random bytes (seeded by the place) at {@code offsetMib} of an export. */
    static void writeRandom(GatewayProcess gateway, String export, Path scratch, int offsetMib, int mib)
            throws IOException {
        byte[] bytes = new byte[mib << 20];
        new java.util.Random(offsetMib * 31L + mib).nextBytes(bytes);
        Path file = scratch.resolve("random-" + offsetMib + "-" + mib);
        java.nio.file.Files.write(file, bytes);
        qemuIo(gateway, export, "write -q -s " + file + " " + offsetMib + "M " + mib + "M").assertSuccess();
    }
}

package cgw.cli;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.tools.Main;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import org.junit.jupiter.api.Test;

/** {@code cgw volume ...} against a real REST server on a real store, as a user runs it. */
class VolumeCommandTest extends RealGatewayTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode withoutAllocated(JsonNode json) {
        JsonNode copy = json.deepCopy();
        for (JsonNode volume : copy.has("volumes") ? copy.get("volumes") : JSON.createArrayNode().add(copy)) {
            ((com.fasterxml.jackson.databind.node.ObjectNode) volume).remove("allocated");
        }
        return copy;
    }

    @Test
    void createsListsAndDeletesVolumes() {
        Cli.Result created = cli.run("volume", "create", "vm1", "--size", "4GiB");
        assertThat(created.exitCode()).as(created.err()).isZero();
        assertThat(created.err()).isEmpty();
        assertThat(created.lines()).hasSize(2);
        assertThat(created.lines()[0]).isEqualTo("NAME  SIZE     ALLOCATED  GROUP  CONN  CREATED               PARENT");
        // allocated bytes are measured in the background: none yet, or nothing written
        assertThat(created.lines()[1]).matches("vm1   4\\.0 GiB  (-|0 B) +- +0 +" + TIME + "  -");

        assertThat(cli.run("volume", "create", "database-wal", "--size", "1536").exitCode()).isZero();

        Cli.Result listed = cli.run("volume", "list");
        assertThat(listed.exitCode()).isZero();
        assertThat(listed.lines()).hasSize(3);
        assertThat(listed.lines()[0])
                .isEqualTo("NAME          SIZE     ALLOCATED  GROUP  CONN  CREATED               PARENT");
        assertThat(listed.lines()[1]).matches("database-wal  1\\.5 KiB  (-|0 B) +- +0 +" + TIME + "  -");
        assertThat(listed.lines()[2]).matches("vm1           4\\.0 GiB  (-|0 B) +- +0 +" + TIME + "  -");

        Cli.Result deleted = cli.run("volume", "delete", "vm1");
        assertThat(deleted.exitCode()).isZero();
        assertThat(deleted.out()).isEmpty();
        assertThat(deleted.err()).isEmpty();
        assertThat(cli.run("volume", "list").lines()).hasSize(2);
        assertThat(gateway.store().volumes()).extracting(volume -> volume.name()).containsExactly("database-wal");
    }

    @Test
    void anEmptyListIsTheHeaderAlone() {
        Cli.Result listed = cli.run("volume", "list");
        assertThat(listed.exitCode()).isZero();
        assertThat(listed.out()).isEqualTo("NAME  SIZE  ALLOCATED  GROUP  CONN  CREATED  PARENT\n");
    }

    @Test
    void jsonIsTheServersJson() throws Exception {
        Cli.Result created = cli.run("volume", "create", "vm1", "--size", "1MiB", "--json");
        assertThat(created.exitCode()).isZero();
        JsonNode volume = JSON.readTree(created.out());
        assertThat(volume.get("name").asText()).isEqualTo("vm1");
        assertThat(volume.get("size").asLong()).isEqualTo(1 << 20);
        assertThat(created.out()).contains("\n  \"name\" : \"vm1\""); // pretty, for people reading it

        Cli.Result listed = cli.run("volume", "list", "--json");
        assertThat(listed.exitCode()).isZero();
        // "allocated" is measured in the background: the first answer may have none, a later one a measure
        assertThat(withoutAllocated(JSON.readTree(listed.out())))
                .isEqualTo(withoutAllocated(JSON.readTree(getDirectly("/v1/volumes"))));
        assertThat(withoutAllocated(JSON.readTree(listed.out()).get("volumes").get(0)))
                .isEqualTo(withoutAllocated(volume));
    }

    @Test
    void refusalsAreOneLineWithStatusCodeAndDetail() {
        assertThat(cli.run("volume", "create", "vm1", "--size", "4GiB").exitCode()).isZero();

        assertFailure(cli.run("volume", "create", "vm1", "--size", "8GiB"),
                "cgw: 409 conflict: volume vm1 already exists");
        assertFailure(cli.run("volume", "delete", "nope"), "cgw: 404 not_found: no volume named nope");
        assertFailureStartsWith(cli.run("volume", "create", "odd", "--size", "1000"),
                "cgw: 400 bad_request: invalid size 1000: must be a positive multiple of 512 bytes");
    }

    @Test
    void aSizeThatIsNoSizeIsAUsageErrorBeforeAnyRequest() {
        Cli.Result result = cli.run("volume", "create", "vm1", "--size", "4XB");
        assertThat(result.exitCode()).isEqualTo(Main.USAGE);
        assertThat(result.err()).startsWith("cgw: Invalid value for option '--size': unknown unit 'XB'");
        assertThat(result.out()).isEmpty();
        assertThat(gateway.store().volumes()).isEmpty();

        assertThat(cli.run("volume", "create", "vm1").err()).startsWith("cgw: Missing required option: '--size=SIZE'");
    }

    @Test
    void aNounWithoutAVerbIsAUsageErrorNamingTheVerbs() {
        Cli.Result result = cli.run("volume");
        assertThat(result.exitCode()).isEqualTo(Main.USAGE);
        assertThat(result.err()).startsWith("cgw: missing subcommand of 'cgw volume': one of create, list, delete\n");
    }

    private String getDirectly(String path) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(gateway.url() + path))
                .header("Authorization", "Bearer " + RestGateway.TOKEN).build();
        return HttpClient.newHttpClient().send(request, BodyHandlers.ofString()).body();
    }
}

package cgw.cli;

import static cgw.cli.RealGatewayTest.assertFailure;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tools.Main;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cgw group ...} and {@code cgw snapshot ...} against a real HTTP server that answers with
 * the contract's JSON shapes as scripted: the exact requests, exact tables (fixed times, absent
 * fields) and answers the gateway gives only under load or never (a barrier timeout, a proxy's
 * page). {@link GroupAndSnapshotEndToEndTest} runs them against the gateway itself.
 */
@Timeout(60)
class GroupAndSnapshotCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String TOKEN = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    private static final String SNAPSHOT_7 = "{\"id\":7,\"group\":\"db\",\"label\":\"nightly\","
            + "\"createdAt\":\"2026-11-25T16:00:00.123Z\",\"volumes\":[\"db-data\",\"db-wal\"],\"freezeMicros\":180}";
    private static final String SNAPSHOT_12 = "{\"id\":12,\"group\":null,\"label\":null,"
            + "\"createdAt\":\"2026-11-25T17:30:05Z\",\"volumes\":[\"a\",\"b\"],\"freezeMicros\":2500}";

    @TempDir
    Path dir;

    private FakeGateway server;
    private Cli cli;

    @BeforeEach
    void start() throws Exception {
        server = new FakeGateway();
        cli = new Cli(dir).env("CGW_URL", server.url()).env("CGW_TOKEN", TOKEN);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void groupCreatePostsNameAndVolumes() throws Exception {
        server.answer("POST", "/v1/groups", 201, "{\"name\":\"db\",\"volumes\":[\"db-data\",\"db-wal\"]}");
        Cli.Result result = cli.run("group", "create", "db", "db-data", "db-wal");
        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.out()).isEqualTo("NAME  VOLUMES\ndb    db-data,db-wal\n");
        assertSent("POST", "/v1/groups", "{\"name\":\"db\",\"volumes\":[\"db-data\",\"db-wal\"]}");
        assertThat(server.requests().get(0).authorization()).isEqualTo("Bearer " + TOKEN);
        assertThat(server.requests().get(0).contentType()).isEqualTo("application/json");
    }

    @Test
    void snapshotOfAGroupPostsToTheGroupsBarrier() throws Exception {
        server.answer("POST", "/v1/groups/db/snapshots", 201, SNAPSHOT_7);
        Cli.Result result = cli.run("snapshot", "create", "db", "--label", "nightly", "--timeout-ms", "500");
        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.out()).isEqualTo("""
                ID  GROUP  LABEL    CREATED               VOLUMES         FREEZE
                7   db     nightly  2026-11-25T16:00:00Z  db-data,db-wal  180 us
                """);
        assertSent("POST", "/v1/groups/db/snapshots", "{\"label\":\"nightly\",\"timeoutMs\":500}");
    }

    @Test
    void snapshotOfVolumesPostsAnAdHocGroup() throws Exception {
        server.answer("POST", "/v1/snapshots", 201, SNAPSHOT_12);
        Cli.Result result = cli.run("snapshot", "create", "--volumes", "a,b", "--json");
        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(JSON.readTree(result.out())).isEqualTo(JSON.readTree(SNAPSHOT_12));
        assertSent("POST", "/v1/snapshots", "{\"volumes\":[\"a\",\"b\"]}");
    }

    @Test
    void snapshotCreateNeedsAGroupOrVolumesButNotBoth() {
        Cli.Result neither = cli.run("snapshot", "create", "--label", "x");
        assertThat(neither.exitCode()).isEqualTo(Main.USAGE);
        assertThat(neither.err()).startsWith("cgw: missing GROUP or --volumes VOL,VOL...\n");
        Cli.Result both = cli.run("snapshot", "create", "db", "--volumes", "a");
        assertThat(both.exitCode()).isEqualTo(Main.USAGE);
        assertThat(both.err()).startsWith("cgw: give GROUP or --volumes, not both\n");
        assertThat(server.requests()).isEmpty();
    }

    @Test
    void usageErrorsSendNothing() {
        Cli.Result noVolumes = cli.run("group", "create", "db");
        assertThat(noVolumes.exitCode()).isEqualTo(Main.USAGE);
        assertThat(noVolumes.err()).startsWith("cgw: Missing required parameter: 'VOL'");
        Cli.Result notAnId = cli.run("snapshot", "delete", "seven");
        assertThat(notAnId.exitCode()).isEqualTo(Main.USAGE);
        assertThat(notAnId.err()).startsWith("cgw: Invalid value for positional parameter at index 0 (ID): 'seven'");
        Cli.Result noPrefix = cli.run("snapshot", "clone", "7");
        assertThat(noPrefix.exitCode()).isEqualTo(Main.USAGE);
        assertThat(noPrefix.err()).startsWith("cgw: Missing required option: '--prefix=PREFIX'");
        assertThat(server.requests()).isEmpty();
    }

    @Test
    void aBarrierThatTimesOutIsOneLine() {
        server.answer("POST", "/v1/groups/db/snapshots", 504,
                "{\"error\":\"timeout\",\"detail\":\"volume db-wal did not drain within 500 ms; nothing was published\"}");
        assertFailure(cli.run("snapshot", "create", "db", "--timeout-ms", "500"),
                "cgw: 504 timeout: volume db-wal did not drain within 500 ms; nothing was published");
    }

    @Test
    void snapshotListOfAllOrOfOneGroup() {
        server.answer("GET", "/v1/snapshots", 200, "{\"snapshots\":[" + SNAPSHOT_7 + "," + SNAPSHOT_12 + "]}")
                .answer("GET", "/v1/snapshots?group=db", 200, "{\"snapshots\":[" + SNAPSHOT_7 + "]}");
        assertThat(cli.run("snapshot", "list").out()).isEqualTo("""
                ID  GROUP  LABEL    CREATED               VOLUMES         FREEZE
                7   db     nightly  2026-11-25T16:00:00Z  db-data,db-wal  180 us
                12  -      -        2026-11-25T17:30:05Z  a,b             2.5 ms
                """);
        assertThat(cli.run("snapshot", "list", "db").lines()).hasSize(2);
        assertThat(server.requests().get(1).target()).isEqualTo("/v1/snapshots?group=db");
    }

    @Test
    void anAnswerThatIsNotTheGatewaysIsOneLineToo() {
        server.answer("GET", "/v1/snapshots", 502, "Bad Gateway\n<html>proxy</html>")
                .answer("GET", "/v1/groups", 200, "<html>welcome</html>");
        assertFailure(cli.run("snapshot", "list"),
                "cgw: 502 from " + server.url() + ": Bad Gateway <html>proxy</html>");
        assertFailure(cli.run("group", "list"), "cgw: " + server.url()
                + " answered 200 with something that is not JSON: <html>welcome</html>");
    }

    /** The last request was {@code method target} with a JSON body equal to {@code json}. */
    private void assertSent(String method, String target, String json) throws Exception {
        FakeGateway.Request request = server.requests().get(server.requests().size() - 1);
        assertThat(request.method()).isEqualTo(method);
        assertThat(request.target()).isEqualTo(target);
        JsonNode body = JSON.readTree(request.body());
        assertThat(body).isEqualTo(JSON.readTree(json));
    }
}

package cgw.cli;

import static cgw.cli.VolumeCommandTest.assertFailure;
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
 * {@code cgw group ...} and {@code cgw snapshot ...}: the requests they send and what they print,
 * against a real HTTP server answering with the contract's JSON shapes (the gateway serves no
 * group or snapshot routes yet).
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
    void groupSetPutsTheNewMembers() throws Exception {
        server.answer("PUT", "/v1/groups/db", 200, "{\"name\":\"db\",\"volumes\":[\"db-data\",\"db-wal\",\"db-log\"]}");
        Cli.Result result = cli.run("group", "set", "db", "db-data", "db-wal", "db-log");
        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.out()).isEqualTo("NAME  VOLUMES\ndb    db-data,db-wal,db-log\n");
        assertSent("PUT", "/v1/groups/db", "{\"volumes\":[\"db-data\",\"db-wal\",\"db-log\"]}");
    }

    @Test
    void groupListShowAndDelete() throws Exception {
        String groups = "{\"groups\":[{\"name\":\"db\",\"volumes\":[\"db-data\",\"db-wal\"]},"
                + "{\"name\":\"web-tier\",\"volumes\":[]}]}";
        server.answer("GET", "/v1/groups", 200, groups)
                .answer("GET", "/v1/groups/db", 200, "{\"name\":\"db\",\"volumes\":[\"db-data\"]}")
                .answer("DELETE", "/v1/groups/db", 204, "");

        assertThat(cli.run("group", "list").out()).isEqualTo("""
                NAME      VOLUMES
                db        db-data,db-wal
                web-tier  -
                """);
        Cli.Result json = cli.run("group", "list", "--json");
        assertThat(JSON.readTree(json.out())).isEqualTo(JSON.readTree(groups));
        assertThat(cli.run("group", "show", "db").out()).isEqualTo("NAME  VOLUMES\ndb    db-data\n");

        Cli.Result deleted = cli.run("group", "delete", "db");
        assertThat(deleted.exitCode()).isZero();
        assertThat(deleted.out()).isEmpty();
        assertThat(server.requests().get(3).method()).isEqualTo("DELETE");
        assertThat(server.requests().get(3).body()).isEmpty();
    }

    @Test
    void groupRefusalsAreOneLine() {
        server.answer("POST", "/v1/groups", 409, "{\"error\":\"conflict\",\"detail\":\"volume db-wal is in group web\"}");
        assertFailure(cli.run("group", "create", "db", "db-wal"), "cgw: 409 conflict: volume db-wal is in group web");
        assertFailure(cli.run("group", "show", "nope"), "cgw: 404 not_found: no route /v1/groups/nope");

        Cli.Result noVolumes = cli.run("group", "create", "db");
        assertThat(noVolumes.exitCode()).isEqualTo(Main.USAGE);
        assertThat(noVolumes.err()).startsWith("cgw: Missing required parameter: 'VOL'");
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
    void snapshotShowDeleteAndClone() throws Exception {
        server.answer("GET", "/v1/snapshots/7", 200, SNAPSHOT_7)
                .answer("DELETE", "/v1/snapshots/7", 204, "")
                .answer("POST", "/v1/snapshots/7/clone", 201, "{\"volumes\":{\"db-data\":\"test-db-data\",\"db-wal\":\"test-db-wal\"}}");

        assertThat(cli.run("snapshot", "show", "7").lines()[1]).startsWith("7   db     nightly");

        Cli.Result cloned = cli.run("snapshot", "clone", "7", "--prefix", "test-");
        assertThat(cloned.exitCode()).as(cloned.err()).isZero();
        assertThat(cloned.out()).isEqualTo("""
                OLD      NEW
                db-data  test-db-data
                db-wal   test-db-wal
                """);
        assertSent("POST", "/v1/snapshots/7/clone", "{\"prefix\":\"test-\"}");

        Cli.Result deleted = cli.run("snapshot", "delete", "7");
        assertThat(deleted.exitCode()).isZero();
        assertThat(deleted.out()).isEmpty();

        Cli.Result notAnId = cli.run("snapshot", "delete", "seven");
        assertThat(notAnId.exitCode()).isEqualTo(Main.USAGE);
        assertThat(notAnId.err()).startsWith("cgw: Invalid value for positional parameter at index 0 (ID): 'seven'");
        assertThat(cli.run("snapshot", "clone", "7").err()).startsWith("cgw: Missing required option: '--prefix=PREFIX'");
    }

    @Test
    void anAnswerThatIsNotTheGatewaysIsOneLineToo() {
        server.answer("GET", "/v1/snapshots", 502, "Bad Gateway\n<html>proxy</html>")
                .answer("GET", "/v1/groups", 200, "<html>welcome</html>");
        assertFailure(cli.run("snapshot", "list"), "cgw: 502 from " + server.url() + ": Bad Gateway <html>proxy</html>");
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

package cgw.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code cgw group ...} and {@code cgw snapshot ...} against a real REST server, group barrier and store. */
class GroupAndSnapshotEndToEndTest extends RealGatewayTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String FREEZE = "\\d+(\\.\\d)? (us|ms|s)";

    @BeforeEach
    void createVolumes() {
        for (String volume : new String[]{"db-data", "db-wal", "web"}) {
            assertThat(cli.run("volume", "create", volume, "--size", "1MiB").exitCode()).isZero();
        }
    }

    @Test
    void groupsAreCreatedChangedShownListedAndDeleted() throws Exception {
        Cli.Result created = cli.run("group", "create", "db", "db-data", "db-wal");
        assertThat(created.exitCode()).as(created.err()).isZero();
        assertThat(created.out()).isEqualTo("NAME  VOLUMES\ndb    db-data,db-wal\n");
        assertThat(cli.run("group", "create", "front", "web").exitCode()).isZero();

        assertThat(cli.run("group", "list").out()).isEqualTo("""
                NAME   VOLUMES
                db     db-data,db-wal
                front  web
                """);
        assertThat(cli.run("group", "set", "db", "db-data").out()).isEqualTo("NAME  VOLUMES\ndb    db-data\n");
        assertThat(cli.run("group", "show", "db").out()).isEqualTo("NAME  VOLUMES\ndb    db-data\n");
        JsonNode shown = JSON.readTree(cli.run("group", "show", "db", "--json").out());
        assertThat(shown).isEqualTo(JSON.readTree("{\"name\":\"db\",\"volumes\":[\"db-data\"]}"));

        Cli.Result deleted = cli.run("group", "delete", "db");
        assertThat(deleted.exitCode()).isZero();
        assertThat(deleted.out()).isEmpty();
        assertThat(cli.run("group", "list").out()).isEqualTo("NAME   VOLUMES\nfront  web\n");
    }

    @Test
    void groupRefusalsAreOneLine() {
        assertThat(cli.run("group", "create", "db", "db-data").exitCode()).isZero();
        assertFailureStartsWith(cli.run("group", "create", "db", "db-wal"), "cgw: 409 conflict: ");
        assertFailureStartsWith(cli.run("group", "create", "other", "db-data"), "cgw: 409 conflict: ");
        assertFailureStartsWith(cli.run("group", "show", "nope"), "cgw: 404 not_found: ");
        assertFailureStartsWith(cli.run("group", "delete", "nope"), "cgw: 404 not_found: ");
    }

    @Test
    void snapshotsAreTakenListedShownClonedAndDeleted() throws Exception {
        assertThat(cli.run("group", "create", "db", "db-data", "db-wal").exitCode()).isZero();

        Cli.Result nightly = cli.run("snapshot", "create", "db", "--label", "nightly", "--timeout-ms", "5000");
        assertThat(nightly.exitCode()).as(nightly.err()).isZero();
        assertThat(nightly.lines()[0]).matches("ID +GROUP +LABEL +CREATED +VOLUMES +FREEZE");
        assertThat(nightly.lines()[1]).matches("\\d+ +db +nightly +" + TIME + " +db-data,db-wal +" + FREEZE);
        long id = Long.parseLong(nightly.lines()[1].split(" +")[0]);

        Cli.Result adHoc = cli.run("snapshot", "create", "--volumes", "web,db-wal", "--json");
        assertThat(adHoc.exitCode()).as(adHoc.err()).isZero();
        JsonNode adHocSnapshot = JSON.readTree(adHoc.out());
        assertThat(adHocSnapshot.get("id").asLong()).isGreaterThan(id);
        assertThat(adHocSnapshot.get("group").isNull()).isTrue();
        assertThat(adHocSnapshot.get("label").isNull()).isTrue();
        assertThat(adHocSnapshot.get("volumes")).extracting(JsonNode::asText).containsExactlyInAnyOrder("web",
                "db-wal");

        assertThat(cli.run("snapshot", "list").lines()).hasSize(3);
        Cli.Result ofDb = cli.run("snapshot", "list", "db");
        assertThat(ofDb.lines()).hasSize(2);
        assertThat(ofDb.lines()[1]).startsWith(id + " ");
        assertThat(JSON.readTree(cli.run("snapshot", "show", String.valueOf(adHocSnapshot.get("id").asLong()), "--json")
                .out())).isEqualTo(adHocSnapshot);

        Cli.Result cloned = cli.run("snapshot", "clone", String.valueOf(id), "--prefix", "test-");
        assertThat(cloned.exitCode()).as(cloned.err()).isZero();
        assertThat(cloned.out()).isEqualTo("""
                OLD      NEW
                db-data  test-db-data
                db-wal   test-db-wal
                """);
        assertThat(cli.run("volume", "list").out())
                .containsPattern("\ntest-db-data +1\\.0 MiB +(-|[0-9.]+ [KM]?i?B) +- +0 +" + TIME + " +db-data\n")
                .containsPattern("\ntest-db-wal +1\\.0 MiB +(-|[0-9.]+ [KM]?i?B) +- +0 +" + TIME + " +db-wal\n");

        Cli.Result deleted = cli.run("snapshot", "delete", String.valueOf(id));
        assertThat(deleted.exitCode()).as(deleted.err()).isZero();
        assertThat(deleted.out()).isEmpty();
        assertFailureStartsWith(cli.run("snapshot", "show", String.valueOf(id)), "cgw: 404 not_found: ");
        assertThat(cli.run("snapshot", "list", "db").lines()).hasSize(1);
    }

    @Test
    void snapshotRefusalsAreOneLine() {
        assertFailureStartsWith(cli.run("snapshot", "create", "nope"), "cgw: 404 not_found: ");
        assertFailureStartsWith(cli.run("snapshot", "list", "nope"), "cgw: 404 not_found: ");
        assertFailureStartsWith(cli.run("snapshot", "create", "--volumes", "db-data", "--timeout-ms", "0"),
                "cgw: 400 bad_request: field 'timeoutMs' must be between 1 and ");
        assertFailureStartsWith(cli.run("snapshot", "clone", "99", "--prefix", "x-"), "cgw: 404 not_found: ");
    }
}

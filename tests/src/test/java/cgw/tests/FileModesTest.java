package cgw.tests;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What other local users can reach of a running gateway: nothing in its data directory (store,
 * segments, tokens, TLS material, backups: files 0600, directories 0700, even where an older
 * gateway left the directory open), and its NBD Unix socket only through its group (0660).
 */
@Timeout(180)
class FileModesTest {
    private static final Set<PosixFilePermission> OTHERS = Set.of(PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

    @TempDir
    Path dir;

    @Test
    void nothingTheGatewayWritesIsOpenToOthersAndItsSocketOnlyToItsGroup() throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Path socket = dir.resolve("nbd.sock");
        try (GatewayProcess withTls = GatewayProcess.start(data, dir.resolve("tls.err"), "--tls")) {
            assertThat(withTls.stop()).as("a first start that makes the TLS material").isZero();
        }
        try (GatewayProcess gateway = GatewayProcess.start(data, dir.resolve("gateway.err"), "--nbd-socket",
                socket.toString())) {
            assertThat(mode(socket)).isEqualTo("rw-rw----");
            gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"vm1\",\"size\":\"64MiB\"}");
            ExternalTool.run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 8M",
                    "nbd+unix:///vm1?socket=" + socket).assertSuccess();
            long snapshot = gateway.call(201, "POST", "/v1/snapshots", "{\"volumes\":[\"vm1\"]}").get("id").asLong();
            String repository = "file://" + data.resolve("backups").resolve("repo");
            long job = gateway.call(202, "POST", "/v1/snapshots/" + snapshot + "/export",
                    "{\"target\":\"" + repository + "\"}").get("id").asLong();
            Awaitility.await("export done").atMost(Duration.ofSeconds(60)).until(() -> {
                JsonNode view = gateway.call(200, "GET", "/v1/jobs/" + job, null);
                return view.get("state").asText().equals("done");
            });
            assertThat(gateway.stop()).isZero();
        }
        assertThat(mode(data)).isEqualTo("rwx------");
        List<String> open = new ArrayList<>();
        int files = 0;
        try (Stream<Path> all = Files.walk(data)) {
            for (Path path : (Iterable<Path>) all::iterator) {
                Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS);
                if (permissions.stream().anyMatch(OTHERS::contains)) {
                    open.add(data.relativize(path) + " " + PosixFilePermissions.toString(permissions));
                }
                files++;
            }
        }
        assertThat(files).as("store, tokens, TLS material and a backup repository").isGreaterThan(20);
        assertThat(data.resolve("backups/repo/config")).exists();
        assertThat(data.resolve("tls/ca-key.pem")).exists();
        assertThat(open).as("files and directories others may use").isEmpty();
    }

    @Test
    void aFileWhereTheSocketShouldGoIsNotDeleted() throws Exception {
        Path notASocket = Files.writeString(dir.resolve("precious"), "not a socket");
        ExternalTool.Result refused = GatewayProcess.localCli(java.util.Map.of(), "serve", "--data",
                dir.resolve("data").toString(), "--nbd", "127.0.0.1:0", "--http", "127.0.0.1:0", "--nbd-socket",
                notASocket.toString());
        assertThat(refused.exitCode()).isNotZero();
        assertThat(refused.stderr()).contains("a file that is not a socket is there");
        assertThat(Files.readString(notASocket)).isEqualTo("not a socket");
    }

    private static String mode(Path path) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
    }
}

package cgw.tests.nbd;

import static cgw.tests.nbd.RawNbdClient.CMD_READ;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import cgw.tests.ExternalTool;
import cgw.tests.GatewayProcess;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A snapshot whose export a client reads is not taken from under it: deleting it is refused (409,
 * with the reason) while the connection is open, the client's reads go on returning the
 * snapshot's bytes, and once it closes the snapshot goes.
 */
@Timeout(120)
class SnapshotInUseTest {
    @TempDir
    Path dir;

    @Test
    void aSnapshotBeingReadIsDeletedOnlyOnceItsConnectionCloses() throws Exception {
        try (GatewayProcess gateway = GatewayProcess.start(dir.resolve("data"), dir.resolve("err"))) {
            gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"disk\",\"size\":\"4MiB\"}");
            ExternalTool.run("qemu-io", "-f", "raw", "-c", "write -q -P 0x5a 0 4M", gateway.nbdUri("disk"))
                    .assertSuccess();
            long id = gateway.call(201, "POST", "/v1/snapshots", "{\"volumes\":[\"disk\"]}").get("id").asLong();
            ExternalTool.run("qemu-io", "-f", "raw", "-c", "write -q -P 0xa5 0 4M", gateway.nbdUri("disk"))
                    .assertSuccess();
            byte[] snapshotBytes = new byte[1 << 20];
            Arrays.fill(snapshotBytes, (byte) 0x5a);

            try (RawNbdClient client = new RawNbdClient(gateway.nbdPort).greet()) {
                assertThat(client.go("disk@" + id).type()).isEqualTo(RawNbdClient.REP_ACK);
                String refused = gateway.call(409, "DELETE", "/v1/snapshots/" + id, null).toString();
                assertThat(refused).contains("reader").contains("disk");
                gateway.call(200, "GET", "/v1/snapshots/" + id, null);
                for (int i = 0; i < 4; i++) {
                    client.request(0, CMD_READ, i, (long) i << 20, 1 << 20, null);
                    assertThat(client.readSimpleReply(1 << 20).data()).as("MiB %d of the snapshot", i)
                            .isEqualTo(snapshotBytes);
                }
            }
            await("the snapshot is deleted once its reader is gone").atMost(Duration.ofSeconds(10))
                    .until(() -> gateway.rest("DELETE", "/v1/snapshots/" + id, null).statusCode() == 204);
            gateway.call(404, "GET", "/v1/snapshots/" + id, null);
        }
    }
}

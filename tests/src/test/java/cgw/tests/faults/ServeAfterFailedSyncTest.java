package cgw.tests.faults;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool;
import cgw.tests.ExternalTool.Result;
import cgw.tests.GatewayProcess;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cgw serve} on a disk whose sync fails once, as a hypervisor sees it over NBD: the flush
 * that met the failure and every later one answer EIO, writes too, reads go on, and the gateway
 * exits non-zero when stopped, so a supervisor sees that it needs attention; /metrics says so before.
 */
class ServeAfterFailedSyncTest {
    private static final String WRITE_AND_FLUSH = "h.pwrite(bytes([%d]) * 1048576, %d)\nh.flush()\nprint('flushed')";

    @TempDir
    Path dir;

    @Test
    void flushesFailAfterAFailedSyncAndTheGatewayExitsNonZero() throws Exception {
        try (FaultFs fs = FaultFs.mountIn(dir);
                GatewayProcess gateway = GatewayProcess.start(fs.mountPoint().resolve("data"),
                        dir.resolve("serve.log"))) {
            gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"disk\",\"size\":\"64MiB\"}");
            String uri = gateway.nbdUri("disk");
            nbdsh(uri, WRITE_AND_FLUSH.formatted(1, 0)).assertSuccess();
            gateway.awaitMetric("cgw_store_sync_failed 0.0");

            fs.failSync("*.seg", 1);
            Result failed = nbdsh(uri, WRITE_AND_FLUSH.formatted(2, 1 << 20));
            assertThat(failed.exitCode()).as(failed.stdout()).isNotZero();
            assertThat(failed.stderr()).contains("Input/output error");
            assertThat(fs.stats().syncsFailed()).isEqualTo(1);
            gateway.awaitMetric("cgw_store_sync_failed 1.0");
            fs.failSync("*.seg", 0); // from now on every sync of a segment fails: none may be tried

            Result next = nbdsh(uri, WRITE_AND_FLUSH.formatted(3, 2 << 20));
            assertThat(next.exitCode()).as("a later write and flush").isNotZero();
            assertThat(next.stderr()).contains("Input/output error");
            nbdsh(uri, "assert h.pread(1048576, 0) == bytes([1]) * 1048576").assertSuccess();

            assertThat(gateway.stop()).as("exit code; log:%n%s", gateway.stderr()).isEqualTo(1);
            assertThat(gateway.stderr()).contains("refuses writes");
            assertThat(fs.stats().syncsFailed()).as("segment syncs tried after the failure").isEqualTo(1);
        }
    }

    private static Result nbdsh(String uri, String python) {
        return ExternalTool.nbdsh("-u", uri, "-c", python);
    }
}

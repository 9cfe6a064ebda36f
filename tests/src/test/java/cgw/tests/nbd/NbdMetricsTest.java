package cgw.tests.nbd;

import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tools.metrics.GatewayMetrics;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gateway's NBD metrics after known I/O from qemu-io, unmodified, on the real server and store. */
class NbdMetricsTest {
    @TempDir
    Path dir;
    private NbdFixture nbd;
    private GatewayMetrics metrics;

    @BeforeEach
    void start() {
        require("qemu-io", "qemu-utils");
        nbd = new NbdFixture(dir, config -> config, (store, exports) -> {
            metrics = new GatewayMetrics(store);
            return metrics.meter(exports);
        });
    }

    @AfterEach
    void stop() throws Exception {
        nbd.close();
        metrics.close();
    }

    @Test
    void qemuIoTrafficIsCountedPerVolume() {
        nbd.createVolume("vm1", 16L << 20);
        nbd.createVolume("vm2", 16L << 20);
        run("qemu-io", "-f", "raw", "-c", "write -P 0xab 0 1M", nbd.uri("vm1")).assertSuccess();
        run("qemu-io", "-f", "raw", "-c", "read -P 0xab 0 1M", "-c", "read -P 0 4M 64k", nbd.uri("vm1"))
                .assertSuccess();
        run("qemu-io", "-f", "raw", "-c", "write -z 0 64k", "-c", "discard 1M 64k", "-c", "flush", nbd.uri("vm2"))
                .assertSuccess();
        String scrape = metrics.scrape();

        assertThat(value(scrape, "cgw_nbd_bytes_total{op=\"write\",volume=\"vm1\"}")).isEqualTo(1 << 20);
        assertThat(value(scrape, "cgw_nbd_request_duration_seconds_count{op=\"write\",volume=\"vm1\"}")).isEqualTo(1);
        assertThat(value(scrape, "cgw_nbd_bytes_total{op=\"read\",volume=\"vm1\"}")).isEqualTo((1 << 20) + (64 << 10));
        assertThat(value(scrape, "cgw_nbd_request_duration_seconds_count{op=\"read\",volume=\"vm1\"}")).isEqualTo(2);
        assertThat(value(scrape, "cgw_nbd_request_duration_seconds_count{op=\"write_zeroes\",volume=\"vm1\"}"))
                .isZero();

        assertThat(value(scrape, "cgw_nbd_request_duration_seconds_count{op=\"write_zeroes\",volume=\"vm2\"}"))
                .isEqualTo(1);
        assertThat(value(scrape, "cgw_nbd_request_duration_seconds_count{op=\"trim\",volume=\"vm2\"}")).isEqualTo(1);
        assertThat(value(scrape, "cgw_nbd_request_duration_seconds_count{op=\"flush\",volume=\"vm2\"}"))
                .as("the flush asked, and qemu's own when it closes the disk").isGreaterThanOrEqualTo(1);
        assertThat(value(scrape, "cgw_nbd_bytes_total{op=\"write\",volume=\"vm2\"}")).isZero();
        for (String line : scrape.split("\n")) {
            if (line.startsWith("cgw_nbd_request_errors_total{")) {
                assertThat(line).endsWith(" 0.0");
            }
        }
    }

    /** The value of one series of a scrape in the Prometheus text format. */
    private static double value(String scrape, String series) {
        for (String line : scrape.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1));
            }
        }
        throw new AssertionError(series + " is not in the scrape:\n" + scrape);
    }
}

package cgw.tests.nbd;

import static cgw.tests.ExternalTool.nbdsh;
import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.store.Volume;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** libnbd's tools, unmodified, against the NBD server: nbdinfo and nbdcopy. */
class LibnbdInteropTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private NbdFixture nbd;

    @BeforeEach
    void start() {
        require("nbdinfo", "libnbd-bin");
        require("nbdcopy", "libnbd-bin");
        require("qemu-io", "qemu-utils");
        nbd = new NbdFixture(dir);
    }

    @AfterEach
    void stop() throws Exception {
        nbd.close();
    }

    @Test
    void nbdinfoShowsWhatTheServerOffers() throws Exception {
        nbd.createVolume("disk", 8L << 20);
        JsonNode export = JSON.readTree(run("nbdinfo", "--json", nbd.uri("disk")).assertSuccess().stdout())
                .get("exports").get(0);
        assertThat(export.get("export-size").asLong()).isEqualTo(8L << 20);
        for (String flag : List.of("can_flush", "can_fua", "can_trim", "can_zero", "can_fast_zero", "can_cache",
                "can_multi_conn", "can_df")) {
            assertThat(export.get(flag).asBoolean()).as(flag).isTrue();
        }
        assertThat(export.get("is_read_only").asBoolean()).isFalse();
        assertThat(export.get("block_size_maximum").asLong()).isEqualTo(32L << 20);
        assertThat(export.get("contexts").toString()).contains("base:allocation");
    }

    @Test
    void snapshotExportIsReadOnly() throws Exception {
        Volume volume = nbd.createVolume("disk", 1 << 20);
        run("qemu-io", "-f", "raw", "-c", "write -P 0x33 0 64k", nbd.uri("disk")).assertSuccess();
        long epoch = nbd.store.cut(volume);
        run("qemu-io", "-f", "raw", "-c", "write -P 0x44 0 64k", nbd.uri("disk")).assertSuccess();
        String snapshot = nbd.uri("disk@" + epoch);
        JsonNode export = JSON.readTree(run("nbdinfo", "--json", snapshot).assertSuccess().stdout()).get("exports")
                .get(0);
        assertThat(export.get("is_read_only").asBoolean()).isTrue();
        run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x33 0 64k", snapshot).assertSuccess();
        // a writer that ignores the read-only flag gets EPERM, and nothing changes
        var write = nbdsh("-u", snapshot, "-c", "h.pwrite(b'x' * 512, 0)");
        assertThat(write.exitCode()).isNotZero();
        assertThat(write.stderr()).containsIgnoringCase("not permitted");
        run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x33 0 64k", snapshot).assertSuccess();
        assertThat(run("nbdinfo", "--json", nbd.uri("disk@" + (epoch + 5))).exitCode()).isNotZero();
    }

    @Test
    void mapShowsDataZeroesAndHoles() throws Exception {
        nbd.createVolume("disk", 4L << 20);
        run("qemu-io", "-f", "raw", "-c", "write -P 0x11 0 1M", "-c", "write -P 0x22 2M 1M",
                "-c", "write -z 2M 256k", "-c", "discard 2560k 256k", nbd.uri("disk")).assertSuccess();
        JsonNode map = JSON.readTree(run("nbdinfo", "--map", "--json", nbd.uri("disk")).assertSuccess().stdout());
        List<String> extents = new ArrayList<>();
        for (JsonNode extent : map) {
            extents.add(extent.get("offset").asLong() / 1024 + "k+" + extent.get("length").asLong() / 1024 + "k:"
                    + extent.get("type").asInt());
        }
        // type: 0 data, 2 zero (allocated), 3 hole and zero
        assertThat(extents).containsExactly("0k+1024k:0", "1024k+1024k:3", "2048k+256k:2", "2304k+256k:0",
                "2560k+256k:3", "2816k+256k:0", "3072k+1024k:3");
    }

    @Test
    void nbdcopyInAndOutWithFourConnections() throws Exception {
        nbd.createVolume("disk", 48L << 20);
        Path source = dir.resolve("source.raw");
        byte[] data = new byte[48 << 20];
        Random random = new Random(7);
        for (int mib = 0; mib < 48; mib += 3) {
            byte[] chunk = new byte[1 << 20];
            random.nextBytes(chunk);
            System.arraycopy(chunk, 0, data, mib << 20, chunk.length);
        }
        Files.write(source, data);
        run("nbdcopy", "--connections=4", source.toString(), nbd.uri("disk")).assertSuccess();
        Path back = dir.resolve("back.raw");
        run("nbdcopy", "--connections=4", nbd.uri("disk"), back.toString()).assertSuccess();
        assertThat(Files.readAllBytes(back)).isEqualTo(data);
        Path single = dir.resolve("single.raw");
        run("nbdcopy", "--connections=1", "--synchronous", nbd.uri("disk"), single.toString()).assertSuccess();
        assertThat(Files.readAllBytes(single)).isEqualTo(data);
        // what nbdcopy wrote is what the store holds
        ByteBuffer stored = ByteBuffer.allocate(1 << 20);
        nbd.store.read(nbd.store.volume("disk"), 45L << 20, stored);
        assertThat(stored.array()).isEqualTo(java.util.Arrays.copyOfRange(data, 45 << 20, 46 << 20));
    }
}

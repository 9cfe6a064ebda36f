package cgw.tests.nbd;

import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** qemu-img and qemu-io, unmodified, against the NBD server. */
class QemuInteropTest {
    @TempDir
    Path dir;
    private NbdFixture nbd;

    @BeforeEach
    void start() {
        require("qemu-img", "qemu-utils");
        require("qemu-io", "qemu-utils");
        nbd = new NbdFixture(dir);
    }

    @AfterEach
    void stop() throws Exception {
        nbd.close();
    }

    @Test
    void qemuImgInfoShowsTheVolumeSize() {
        nbd.createVolume("disk", 64L << 20);
        Result info = run("qemu-img", "info", "--output=json", nbd.uri("disk")).assertSuccess();
        assertThat(info.stdout()).contains("\"virtual-size\": " + (64L << 20)).contains("\"format\": \"raw\"");
    }

    @Test
    void unknownExportIsRefusedAndTheServerGoesOn() {
        nbd.createVolume("disk", 1 << 20);
        Result missing = run("qemu-img", "info", nbd.uri("nope"));
        assertThat(missing.exitCode()).isNotZero();
        assertThat(missing.stderr()).contains("nope");
        run("qemu-img", "info", nbd.uri("disk")).assertSuccess();
    }

    @Test
    void qemuIoPatternsAlignedAndUnaligned() {
        nbd.createVolume("disk", 16L << 20);
        String uri = nbd.uri("disk");
        run("qemu-io", "-f", "raw", "-c", "write -P 0xab 0 1M", "-c", "write -P 0xcd 1536 3000",
                "-c", "write -z 4M 1M", "-c", "write -P 0x11 8M 64k", "-c", "discard 8M 64k",
                "-c", "write -P 0x22 12M 4096", "-c", "write -z -u 12M 4096", uri).assertSuccess();
        Result check = run("qemu-io", "-f", "raw", "-c", "read -P 0xab 0 1536", "-c", "read -P 0xcd 1536 3000",
                "-c", "read -P 0xab 4536 1044040", "-c", "read -P 0 4M 1M", "-c", "read -P 0 8M 64k",
                "-c", "read -P 0 12M 4096", "-c", "read -P 0 15M 1M", uri).assertSuccess();
        assertThat(check.stdout()).doesNotContain("Pattern verification failed");
        assertThat(check.stderr()).doesNotContain("Pattern verification failed");
    }

    @Test
    void convertInAndOutAndCompare() throws Exception {
        nbd.createVolume("disk", 32L << 20);
        Path raw = dir.resolve("source.raw");
        byte[] data = new byte[32 << 20];
        Random random = new Random(42);
        for (int mib = 0; mib < 32; mib += 2) { // every other MiB random, the rest zeros
            byte[] chunk = new byte[1 << 20];
            random.nextBytes(chunk);
            System.arraycopy(chunk, 0, data, mib << 20, chunk.length);
        }
        Files.write(raw, data);
        run("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", raw.toString(), nbd.uri("disk")).assertSuccess();
        run("qemu-img", "compare", "-f", "raw", "-F", "raw", raw.toString(), nbd.uri("disk")).assertSuccess();
        Path back = dir.resolve("back.raw");
        run("qemu-img", "convert", "-f", "raw", "-O", "raw", nbd.uri("disk"), back.toString()).assertSuccess();
        assertThat(Files.readAllBytes(back)).isEqualTo(data);
        // a changed byte is noticed
        run("qemu-io", "-f", "raw", "-c", "write -P 0x5a 3M 512", nbd.uri("disk")).assertSuccess();
        assertThat(run("qemu-img", "compare", "-f", "raw", "-F", "raw", raw.toString(), nbd.uri("disk")).exitCode())
                .isEqualTo(1);
    }
}

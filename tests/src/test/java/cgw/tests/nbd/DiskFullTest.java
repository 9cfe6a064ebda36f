package cgw.tests.nbd;

import static cgw.tests.ExternalTool.nbdsh;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool;
import cgw.tests.ExternalTool.Result;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway's disk fills up under a client: writes fail with ENOSPC (not EIO), everything
 * acknowledged before still reads back, other requests keep being served, and once space is freed
 * writes work again without a restart. The store lives on a small tmpfs (mounting it needs root,
 * as the test machines have); a ballast file takes most of it, so that the store runs into the
 * free space it keeps for itself after a few MiB of writes, and deleting it is the operator
 * freeing space.
 */
class DiskFullTest {
    private static final long MiB = 1 << 20;

    @TempDir
    Path dir;
    private Path mount;
    private NbdFixture nbd;

    @BeforeEach
    void mountSmallDisk() throws IOException {
        mount = Files.createDirectories(dir.resolve("small"));
        ExternalTool.run("mount", "-t", "tmpfs", "-o", "size=192m", "tmpfs", mount.toString()).assertSuccess();
    }

    @AfterEach
    void unmount() throws Exception {
        if (nbd != null) {
            nbd.close();
        }
        ExternalTool.run("umount", mount.toString()).assertSuccess();
    }

    private String script(String python) {
        Result result = nbdsh("-u", nbd.uri("disk"), "-c", python + "\nprint('OK')");
        assertThat(result.stdout()).as("stderr: %s", result.stderr()).contains("OK");
        result.assertSuccess();
        return result.stdout();
    }

    @Test
    void aFullDiskFailsWritesWithEnospcLosesNothingAndRecoversWhenSpaceIsFreed() throws IOException {
        nbd = new NbdFixture(mount);
        nbd.createVolume("disk", 256 * MiB);
        Path ballast = mount.resolve("ballast");
        // the store keeps 2 x 16 MiB memtables + 64 MiB to itself: writes are refused after about 24 MiB
        fill(ballast, mount.toFile().getUsableSpace() - 96 * MiB - 24 * MiB);

        String out = script("""
                import errno
                MiB = 1 << 20
                def block(i):
                    return bytes([i % 251 + 1]) * MiB
                for i in range(4):
                    h.pwrite(block(i), i * MiB)
                h.flush()
                full_at = None
                for i in range(4, 256):
                    try:
                        h.pwrite(block(i), i * MiB)
                    except nbd.Error as e:
                        assert e.errnum == errno.ENOSPC, (e.errnum, e.string)
                        full_at = i
                        break
                assert full_at is not None, 'the disk never filled'
                # flushed or only acknowledged, every write before the failure is there
                for i in range(full_at):
                    assert h.pread(MiB, i * MiB) == block(i), i
                # a read of what the failed write did not write: still zeros, the volume is thin
                assert h.pread(MiB, 200 * MiB) == bytes(MiB)
                print('FULL_AT', full_at)
                """);
        int fullAt = Integer.parseInt(out.lines().filter(line -> line.startsWith("FULL_AT"))
                .findFirst().orElseThrow().split(" ")[1]);
        assertThat(fullAt).isBetween(5, 40);

        Files.delete(ballast);
        script("""
                MiB = 1 << 20
                def block(i):
                    return bytes([i % 251 + 1]) * MiB
                for i in range(FULL_AT, FULL_AT + 16):
                    h.pwrite(block(i), i * MiB)
                h.flush()
                for i in range(FULL_AT + 16):
                    assert h.pread(MiB, i * MiB) == block(i), i
                """.replace("FULL_AT", String.valueOf(fullAt)));
    }

    private static void fill(Path file, long bytes) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocate((int) MiB);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long written = 0; written < bytes; written += MiB) {
                chunk.clear().limit((int) Math.min(MiB, bytes - written));
                while (chunk.hasRemaining()) {
                    channel.write(chunk);
                }
            }
        }
    }
}

package cgw.tests.nbd;

import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool;
import java.io.IOException;
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

/**
 * A block device without a kernel nbd module, over the Unix socket: nbdfuse turns the export into
 * a file, losetup into a block device, on which ext4 is made, filled, checked and read back.
 */
class FuseBlockDeviceTest {
    @TempDir
    Path dir;
    private NbdFixture nbd;
    private Path socket;
    private final List<Runnable> cleanups = new ArrayList<>();

    @BeforeEach
    void start() {
        for (String[] tool : new String[][]{{"nbdfuse", "libnbd-bin"}, {"fusermount3", "fuse3"},
                {"losetup", "mount"}, {"mkfs.ext4", "e2fsprogs"}, {"fsck.ext4", "e2fsprogs"}, {"mount", "mount"},
                {"umount", "mount"}, {"nbdinfo", "libnbd-bin"}}) {
            require(tool[0], tool[1]);
        }
        socket = dir.resolve("nbd.sock");
        nbd = new NbdFixture(dir, config -> config.withUnixSocket(socket));
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = cleanups.size() - 1; i >= 0; i--) {
            cleanups.get(i).run();
        }
        nbd.close();
    }

    @Test
    void ext4OnALoopDeviceOverNbdfuse() throws Exception {
        nbd.createVolume("disk", 256L << 20);
        String uri = "nbd+unix:///disk?socket=" + socket;
        assertThat(run("nbdinfo", "--size", uri).assertSuccess().stdout().trim()).isEqualTo(String.valueOf(256L << 20));

        Path fuse = Files.createDirectory(dir.resolve("fuse"));
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        Path pidFile = dir.resolve("nbdfuse.pid");
        Process nbdfuse = new ProcessBuilder("nbdfuse", "-P", pidFile.toString(), fuse.resolve("disk").toString(), uri)
                .redirectErrorStream(true).redirectOutput(dir.resolve("nbdfuse.log").toFile()).start();
        cleanups.add(() -> {
            run("fusermount3", "-u", fuse.toString());
            nbdfuse.destroy();
        });
        ExternalTool.awaitPidFile(nbdfuse, pidFile);
        assertThat(pidFile).as("nbdfuse ready; log: %s", log("nbdfuse.log")).exists();

        String loop = run("losetup", "-f", "--show", fuse.resolve("disk").toString()).assertSuccess().stdout().trim();
        cleanups.add(() -> run("losetup", "-d", loop));
        run("mkfs.ext4", "-q", "-F", loop).assertSuccess();

        Random random = new Random(11);
        List<byte[]> files = new ArrayList<>();
        run("mount", loop, mnt.toString()).assertSuccess();
        Runnable unmount = () -> run("umount", mnt.toString());
        cleanups.add(unmount);
        Files.createDirectories(mnt.resolve("a/b"));
        for (int i = 0; i < 5; i++) {
            byte[] content = new byte[(i + 1) * 777_777];
            random.nextBytes(content);
            files.add(content);
            Files.write(mnt.resolve("a/b/file" + i), content);
        }
        run("sync").assertSuccess();
        run("umount", mnt.toString()).assertSuccess();

        run("fsck.ext4", "-n", "-f", loop).assertSuccess();

        run("mount", loop, mnt.toString()).assertSuccess();
        for (int i = 0; i < files.size(); i++) {
            assertThat(Files.readAllBytes(mnt.resolve("a/b/file" + i))).as("file %d", i).isEqualTo(files.get(i));
        }
        run("umount", mnt.toString()).assertSuccess();
        cleanups.remove(unmount);

        // the filesystem lives in the store: ext4's superblock magic 0xEF53 at byte 1080
        ByteBuffer magic = ByteBuffer.allocate(2);
        nbd.store.read(nbd.store.volume("disk"), 1080, magic);
        assertThat(magic.array()).containsExactly(0x53, 0xEF);
    }

    private String log(String name) {
        try {
            return Files.readString(dir.resolve(name));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }
}

package cgw.tests.pg;

import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import cgw.tests.ExternalTool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.awaitility.core.ConditionTimeoutException;

/**
 * An NBD export as a mounted ext4 filesystem, the way a user without a kernel nbd module gets one:
 * nbdfuse makes the export a regular file, losetup a block device of that file, mount the
 * filesystem. Each step registers its undo with a {@link Teardown}. Called from the test thread.
 */
final class Ext4OverNbd {
    private static final long READY_TIMEOUT_SECONDS = 30;
    // the last user may be a process still exiting on a loaded machine; a quiet one takes well under a second
    private static final Duration BUSY_TIMEOUT = Duration.ofSeconds(30);

    private Ext4OverNbd() {
    }

    /** Runs nbdfuse on {@code uri} and returns the file, in the new directory {@code fuseDir}, that is the export. */
    static Path nbdfuse(String uri, Path fuseDir, Teardown teardown) throws IOException, InterruptedException {
        Files.createDirectory(fuseDir);
        Path pidFile = fuseDir.resolveSibling(fuseDir.getFileName() + ".pid");
        Path log = fuseDir.resolveSibling(fuseDir.getFileName() + ".log");
        Path file = fuseDir.resolve("disk");
        Process nbdfuse = new ProcessBuilder("nbdfuse", "-P", pidFile.toString(), file.toString(), uri)
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        teardown.add("nbdfuse " + uri, () -> {
            if (nbdfuse.isAlive()) {
                // the loop device let go of the file a moment ago: fusermount3 may still find it busy
                ExternalTool.Result unmounted = untilNotBusy("fusermount3", "-u", fuseDir.toString());
                if (!nbdfuse.waitFor(READY_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    nbdfuse.destroyForcibly();
                    unmounted.assertSuccess();
                }
            }
        });
        ExternalTool.awaitPidFile(nbdfuse, pidFile);
        assertThat(pidFile).as("nbdfuse %s ready; its log: %s", uri, Files.readString(log)).exists();
        return file;
    }

    /** Makes an ext4 filesystem on {@code image} and mounts it on {@code mountPoint}. */
    static void formatAndMount(Path image, Path mountPoint, Teardown teardown) throws IOException {
        String loop = loop(image, teardown);
        run("mkfs.ext4", "-q", "-F", loop).assertSuccess();
        mount(loop, mountPoint, teardown).assertSuccess();
    }

    /**
     * Mounts the filesystem in {@code image} (which replays its journal) on {@code mountPoint};
     * returns what mount said, as a filesystem that cannot be mounted is a finding, not an error.
     */
    static ExternalTool.Result mountImage(Path image, Path mountPoint, Teardown teardown) throws IOException {
        return mount(loop(image, teardown), mountPoint, teardown);
    }

    private static String loop(Path image, Teardown teardown) {
        String loop = run("losetup", "-f", "--show", image.toString()).assertSuccess().stdout().strip();
        teardown.add("losetup -d " + loop, () -> run("losetup", "-d", loop).assertSuccess());
        return loop;
    }

    private static ExternalTool.Result mount(String device, Path mountPoint, Teardown teardown) throws IOException {
        Files.createDirectories(mountPoint);
        ExternalTool.Result mounted = run("mount", "-t", "ext4", device, mountPoint.toString());
        if (mounted.exitCode() == 0) {
            teardown.add("umount " + mountPoint, () -> untilNotBusy("umount", mountPoint.toString()).assertSuccess());
        }
        return mounted;
    }

    /**
     * Runs an unmount {@code command} until it succeeds, for up to {@link #BUSY_TIMEOUT}: the last
     * user of the mount may be a process still exiting. Returns the last try, for the caller to check.
     */
    private static ExternalTool.Result untilNotBusy(String... command) {
        AtomicReference<ExternalTool.Result> last = new AtomicReference<>();
        try {
            return await(String.join(" ", command) + " succeeds").atMost(BUSY_TIMEOUT)
                    .pollInterval(Duration.ofMillis(100))
                    .until(() -> {
                        last.set(run(command));
                        return last.get();
                    }, result -> result.exitCode() == 0);
        } catch (ConditionTimeoutException e) {
            if (last.get() == null) {
                throw e;
            }
            return last.get();
        }
    }
}

package cgw.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RepositoryLockTest {
    @TempDir
    Path dir;

    private static final String HOST = ManagementFactory.getRuntimeMXBean().getName().replaceFirst("^[0-9]+@", "");

    /** The pid of a process that has exited. */
    private static long deadPid() throws Exception {
        Process process = new ProcessBuilder("true").start();
        process.waitFor();
        return process.pid();
    }

    private static void putLock(ObjectStore objects, String name, RepositoryLock.Record record) throws Exception {
        objects.put(RepositoryLock.PREFIX + name, ManifestCodec.JSON.writeValueAsBytes(record));
    }

    private static RepositoryLock.Record lockOf(String host, long pid, long startMillis) {
        long now = System.currentTimeMillis();
        return new RepositoryLock.Record(false, "export of snapshot 1 by " + pid + "@" + host, now, now, host, pid,
                startMillis);
    }

    @Test
    void aSharedLockOfAProcessOfThisHostThatIsGoneDoesNotBlockPrune() throws Exception {
        try (DirectoryObjectStore objects = new DirectoryObjectStore(dir)) {
            putLock(objects, "shared-dead", lockOf(HOST, deadPid(), System.currentTimeMillis() - 60_000));
            try (RepositoryLock prune = RepositoryLock.acquire(objects, true, "prune")) {
                assertThat(objects.list(RepositoryLock.PREFIX)).as("the dead lock is removed")
                        .noneMatch(k -> k.endsWith("shared-dead"));
            }
        }
    }

    @Test
    void aLockOfALiveProcessOrOfAnotherHostIsHonoured() throws Exception {
        ProcessHandle self = ProcessHandle.current();
        long start = self.info().startInstant().orElseThrow().toEpochMilli();
        try (DirectoryObjectStore objects = new DirectoryObjectStore(dir)) {
            putLock(objects, "shared-live", lockOf(HOST, self.pid(), start));
            assertThatThrownBy(() -> RepositoryLock.acquire(objects, true, "prune"))
                    .isInstanceOf(RepositoryLockedException.class).hasMessageContaining("export of snapshot 1");
            objects.delete(RepositoryLock.PREFIX + "shared-live");

            // its pid does not run here, but it is another host's process: only its age counts
            putLock(objects, "shared-remote", lockOf("another-" + HOST, deadPid(), start));
            assertThatThrownBy(() -> RepositoryLock.acquire(objects, true, "prune"))
                    .isInstanceOf(RepositoryLockedException.class);
            objects.delete(RepositoryLock.PREFIX + "shared-remote");

            // a lock without a process (an older version's) is honoured until it is stale
            long now = System.currentTimeMillis();
            putLock(objects, "shared-old", new RepositoryLock.Record(false, "old", now, now, null, 0, 0));
            assertThatThrownBy(() -> RepositoryLock.acquire(objects, true, "prune"))
                    .isInstanceOf(RepositoryLockedException.class);
        }
    }

    @Test
    void aLockWhosePidNowBelongsToALaterProcessIsDead() throws Exception {
        ProcessHandle self = ProcessHandle.current();
        long start = self.info().startInstant().orElseThrow().toEpochMilli();
        try (DirectoryObjectStore objects = new DirectoryObjectStore(dir)) {
            putLock(objects, "shared-reused", lockOf(HOST, self.pid(), start - 3_600_000));
            RepositoryLock.acquire(objects, true, "prune").close();
        }
    }
}

package cgw.backup;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DirectoryObjectStoreTest {
    @TempDir
    Path dir;

    private static byte[] bytes(int length, int seed) {
        byte[] data = new byte[length];
        new Random(seed).nextBytes(data);
        return data;
    }

    private List<Path> temporaryFiles() throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(p -> p.getFileName().toString().startsWith(DirectoryObjectStore.TEMP_PREFIX)).toList();
        }
    }

    @Test
    void objectsPutLaterAreAllThereByteForByteOnceSyncReturnsAndLeaveNoTemporaryFile() throws IOException {
        assertThat(FileSystemSync.available()).as("syncfs(2) through jnr-ffi on Linux; the load failed with %s",
                FileSystemSync.loadFailure() == null ? "nothing" : stackTrace(FileSystemSync.loadFailure())).isTrue();
        int count = (int) (3 * DirectoryObjectStore.BATCH_BYTES / (1 << 20)) + 5;
        try (DirectoryObjectStore store = new DirectoryObjectStore(dir)) {
            for (int i = 0; i < count; i++) {
                store.putLater(String.format("chunks/%02x/object-%d", i % 7, i), bytes(1 << 20, i));
            }
            assertThat(store.list("chunks/")).as("whole batches are published as they fill")
                    .hasSizeBetween(3 * (int) (DirectoryObjectStore.BATCH_BYTES >> 20), count - 1);
            store.sync();
            assertThat(store.list("chunks/")).hasSize(count);
            for (int i = 0; i < count; i++) {
                assertThat(store.get(String.format("chunks/%02x/object-%d", i % 7, i), 1 << 20))
                        .isEqualTo(bytes(1 << 20, i));
            }
            assertThat(temporaryFiles()).isEmpty();
        }
    }

    @Test
    void closingWithoutSyncDropsWhatWasPutLaterAndKeepsWhatWasPut() throws IOException {
        try (DirectoryObjectStore store = new DirectoryObjectStore(dir)) {
            store.put("config", bytes(100, 1));
            store.putLater("chunks/aa/unsynced", bytes(4096, 2));
            assertThat(store.exists("chunks/aa/unsynced")).isFalse();
            assertThat(temporaryFiles()).hasSize(1);
        }
        assertThat(temporaryFiles()).isEmpty();
        try (DirectoryObjectStore store = new DirectoryObjectStore(dir)) {
            assertThat(store.list("")).containsExactly("config");
            assertThat(store.get("config", 1 << 20)).isEqualTo(bytes(100, 1));
        }
    }

    private static String stackTrace(Throwable failure) {
        java.io.StringWriter out = new java.io.StringWriter();
        failure.printStackTrace(new java.io.PrintWriter(out));
        return out.toString();
    }

    @Test
    void symbolicLinksInsideARepositoryAreNeverFollowed() throws IOException {
        Path secret = Files.writeString(dir.resolve("secret"), "the gateway's own file");
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        Path root = dir.resolve("repo");
        try (DirectoryObjectStore store = new DirectoryObjectStore(root)) {
            store.put("chunks/aa/real", bytes(100, 1));
            Files.createSymbolicLink(root.resolve("chunks/aa/linked"), secret);
            Files.createSymbolicLink(root.resolve("chunks/bb"), elsewhere);
            Files.writeString(elsewhere.resolve("object"), "outside");

            assertThatThrownBy(() -> store.get("chunks/aa/linked", 1 << 20)).isInstanceOf(CorruptObjectException.class)
                    .hasMessage("chunks/aa/linked in " + root + " is a symbolic link; a repository never follows one");
            assertThatThrownBy(() -> store.get("chunks/bb/object", 1 << 20)).isInstanceOf(CorruptObjectException.class)
                    .hasMessageStartingWith("chunks/bb in ");
            assertThatThrownBy(() -> store.put("chunks/bb/new", bytes(10, 2)))
                    .isInstanceOf(CorruptObjectException.class);
            assertThatThrownBy(() -> store.putIfAbsent("chunks/bb/new", bytes(10, 2)))
                    .isInstanceOf(CorruptObjectException.class);
            assertThatThrownBy(() -> store.delete("chunks/aa/linked")).isInstanceOf(CorruptObjectException.class);
            assertThat(store.list("chunks/")).as("links are not objects").containsExactly("chunks/aa/real");
        }
        assertThat(Files.readString(secret)).isEqualTo("the gateway's own file");
        try (Stream<Path> files = Files.list(elsewhere)) {
            assertThat(files).containsExactly(elsewhere.resolve("object"));
        }
    }
}

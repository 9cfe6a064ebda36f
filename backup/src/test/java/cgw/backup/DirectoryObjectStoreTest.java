package cgw.backup;

import static org.assertj.core.api.Assertions.assertThat;

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
                assertThat(store.get(String.format("chunks/%02x/object-%d", i % 7, i))).isEqualTo(bytes(1 << 20, i));
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
            assertThat(store.get("config")).isEqualTo(bytes(100, 1));
        }
    }

    private static String stackTrace(Throwable failure) {
        java.io.StringWriter out = new java.io.StringWriter();
        failure.printStackTrace(new java.io.PrintWriter(out));
        return out.toString();
    }
}

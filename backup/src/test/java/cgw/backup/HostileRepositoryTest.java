package cgw.backup;

import static cgw.backup.BackupFixture.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import cgw.barrier.Snapshot;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A repository is data from elsewhere: objects too large for what they claim to be are refused
 * before they are read, key derivation parameters out of bounds before any work, a lock from a
 * clock far ahead does not lock it forever, and an incremental export never builds on a manifest
 * that only shares its base's id.
 */
class HostileRepositoryTest {
    @TempDir
    Path dir;

    private static ExportResult export(BackupFixture fx, Repository repository, Snapshot snapshot, Snapshot parent) {
        return new Exporter(fx.store, repository, JobOptions.defaults(), "gw-test").export(snapshot, parent);
    }

    @Test
    void objectsLargerThanTheirKindCanBeAreNotRead() throws IOException {
        try (BackupFixture fx = new BackupFixture(dir.resolve("gw"));
                Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            Snapshot snapshot = fx.randomVolumeSnapshot("v", 8 * MIB, 1);
            export(fx, repository, snapshot, null);
            Path chunk;
            try (Stream<Path> files = Files.walk(fx.repositoryDir("repo").resolve("chunks"))) {
                chunk = files.filter(Files::isRegularFile).sorted().findFirst().orElseThrow();
            }
            // sparse: a gigabyte on paper, nothing on disk; read whole, it would take a 1 GiB array
            try (RandomAccessFile file = new RandomAccessFile(chunk.toFile(), "rw")) {
                file.setLength(1L << 30);
            }
            Path manifest = fx.repositoryDir("repo").resolve(Manifest.objectKey(snapshot.id()));
            try (RandomAccessFile file = new RandomAccessFile(manifest.toFile(), "rw")) {
                file.setLength(Runtime.getRuntime().maxMemory());
            }

            assertThatThrownBy(() -> repository.readManifest(snapshot.id())).isInstanceOf(CorruptObjectException.class)
                    .hasMessageContaining("holds " + Runtime.getRuntime().maxMemory() + " bytes, more than the")
                    .hasMessageEndingWith("such an object can have; not read");
            String key = fx.repositoryDir("repo").relativize(chunk).toString();
            assertThatThrownBy(() -> repository.readChunk(ChunkId.fromObjectKey(key)))
                    .isInstanceOf(CorruptObjectException.class).hasMessageContaining("holds 1073741824 bytes");
        }
    }

    @Test
    void aLockDatedFarInTheFutureIsDeadAndOneSlightlyAheadIsNot() {
        try (BackupFixture fx = new BackupFixture(dir.resolve("gw"));
                Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            Snapshot snapshot = fx.randomVolumeSnapshot("v", 2 * MIB, 2);
            ObjectStore objects = ObjectStore.open(fx.repositoryDir("repo").toUri().toString(), null);
            long now = System.currentTimeMillis();
            objects.put(RepositoryLock.PREFIX + "exclusive-ahead", lock(now + RepositoryLock.STALE_AFTER_MS / 2));
            assertThatThrownBy(() -> export(fx, repository, snapshot, null))
                    .isInstanceOf(RepositoryLockedException.class);
            objects.delete(RepositoryLock.PREFIX + "exclusive-ahead");

            objects.put(RepositoryLock.PREFIX + "exclusive-year", lock(now + 365L * 24 * 3600_000));
            assertThat(export(fx, repository, snapshot, null).snapshotId()).isEqualTo(snapshot.id());
            new Pruner(repository).keepLast(1);
            assertThat(objects.list(RepositoryLock.PREFIX)).as("prune removed the dead lock").isEmpty();
            objects.close();
        }
    }

    @Test
    void anIncrementalExportRefusesABaseThatIsAnotherSnapshotWithTheSameId() throws InterruptedException {
        try (BackupFixture first = new BackupFixture(dir.resolve("first"));
                BackupFixture second = new BackupFixture(dir.resolve("second"))) {
            Snapshot theirs = first.randomVolumeSnapshot("v", 4 * MIB, 3);
            Thread.sleep(5); // taken at another millisecond, as two gateways would
            Snapshot ours = second.randomVolumeSnapshot("v", 4 * MIB, 4);
            assertThat(ours.id()).as("two gateways number their snapshots alike").isEqualTo(theirs.id());
            assertThat(ours.members()).as("even volume ids and epochs can coincide").isEqualTo(theirs.members());
            second.fillRandom(second.store.volume("v"), 0, MIB, 5);
            Snapshot next = second.snapshot("v");
            Path shared = dir.resolve("shared");
            try (Repository repository = Repository.openOrCreate(
                    ObjectStore.open(shared.toUri().toString(), null), BackupFixture.FAST_KDF, KeySource.none())) {
                export(first, repository, theirs, null);
                assertThatThrownBy(() -> export(second, repository, next, ours))
                        .isInstanceOf(BaseMismatchException.class)
                        .hasMessageStartingWith("snapshot " + ours.id() + " in ")
                        .hasMessageContaining("is not this gateway's snapshot " + ours.id())
                        .hasMessageContaining("by gw-test");
                assertThat(repository.hasSnapshot(next.id())).isFalse();
            }
        }
    }

    /**
     * Key derivation parameters are the repository's to name: a config asking Argon2 for more
     * memory than the heap, or for hours of passes, is refused before any work (with them, the
     * opening would run out of memory or tie up a core).
     */
    @Test
    void aKeyDerivationBeyondItsBoundsIsRefusedBeforeAnyWork() throws IOException {
        try (BackupFixture fx = new BackupFixture(dir.resolve("gw"))) {
            fx.directoryRepository("repo", KeySource.passphrase("correct horse")).close();
            Path config = fx.repositoryDir("repo").resolve(Repository.CONFIG_KEY);
            String original = Files.readString(config);
            for (String[] change : new String[][]{{"memoryKiB", String.valueOf(4 << 20), "out of range"},
                    {"iterations", "100000", "out of range"}, {"memoryKiB", "-1", "out of range"},
                    {"memoryKiB", String.valueOf(KdfParams.MAX_MEMORY_KIB), "more than half of this gateway's heap"}}) {
                com.fasterxml.jackson.databind.node.ObjectNode json = (com.fasterxml.jackson.databind.node.ObjectNode) ManifestCodec.JSON
                        .readTree(original);
                ((com.fasterxml.jackson.databind.node.ObjectNode) json.get("encryption")).put(change[0],
                        Long.parseLong(change[1]));
                Files.write(config, ManifestCodec.JSON.writeValueAsBytes(json));
                assertThatThrownBy(() -> fx.directoryRepository("repo", KeySource.passphrase("correct horse")))
                        .as("%s = %s", change[0], change[1]).isInstanceOf(RepositoryFormatException.class)
                        .hasMessageStartingWith("the repository's key derivation").hasMessageContaining(change[2]);
            }
            Files.writeString(config, original);
            fx.directoryRepository("repo", KeySource.passphrase("correct horse")).close();
        }
    }

    private static byte[] lock(long refreshedAtMillis) {
        return ("{\"exclusive\":true,\"holder\":\"prune by 1@elsewhere\",\"createdAtMillis\":" + refreshedAtMillis
                + ",\"refreshedAtMillis\":" + refreshedAtMillis + ",\"host\":\"elsewhere\",\"pid\":1,"
                + "\"processStartMillis\":0}").getBytes(StandardCharsets.US_ASCII);
    }
}

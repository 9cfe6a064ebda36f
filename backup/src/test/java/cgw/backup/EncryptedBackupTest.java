package cgw.backup;

import static cgw.backup.BackupFixture.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import cgw.barrier.Snapshot;
import cgw.store.Volume;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EncryptedBackupTest {
    private static final byte[] MARKER = "CGW-PLAINTEXT-MARKER-0123456789".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private BackupFixture fx;

    @BeforeEach
    void open() {
        fx = new BackupFixture(dir);
    }

    @AfterEach
    void close() {
        fx.close();
    }

    /** 2 MiB where every 4 KiB block starts with the marker and goes on with random bytes. */
    private Snapshot markedVolume() {
        Volume disk = fx.volume("disk", 4 * MIB);
        byte[] data = BackupFixture.randomBytes(2 * MIB, 3);
        for (int block = 0; block < data.length; block += 4096) {
            System.arraycopy(MARKER, 0, data, block, MARKER.length);
        }
        fx.write(disk, 0, data);
        return fx.snapshot("disk");
    }

    private void export(Repository repository, Snapshot snapshot) {
        new Exporter(fx.store, repository, JobOptions.defaults(), "gw").export(snapshot, null);
    }

    /** Files of a repository directory holding the marker. */
    private List<Path> filesWithMarker(String repository) throws IOException {
        String marker = new String(MARKER, StandardCharsets.ISO_8859_1);
        try (Stream<Path> files = Files.walk(fx.repositoryDir(repository))) {
            return files.filter(Files::isRegularFile).filter(p -> {
                try {
                    return new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1).contains(marker);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).toList();
        }
    }

    @Test
    void noPlaintextAppearsInAnEncryptedRepositoryAndItRoundtrips() throws IOException {
        Snapshot snapshot = markedVolume();
        try (Repository plain = fx.directoryRepository("plain", KeySource.none())) {
            export(plain, snapshot);
        }
        assertThat(filesWithMarker("plain")).as("the check can see the marker when it is there").isNotEmpty();

        try (Repository sealed = fx.directoryRepository("sealed", KeySource.passphrase("correct horse"))) {
            assertThat(sealed.config().hash()).isEqualTo("hmac-sha256");
            export(sealed, snapshot);
            assertThat(filesWithMarker("sealed")).isEmpty();
            fx.assertRestoresExactly(sealed, snapshot, "r-");
            assertThat(new Verifier(sealed, JobOptions.defaults()).verifyAll().clean()).isTrue();
        }
        // keyed ids: equal plaintexts get different names in the two repositories
        try (Repository plain = fx.directoryRepository("plain", KeySource.none());
                Repository sealed = fx.directoryRepository("sealed", KeySource.passphrase("correct horse"))) {
            assertThat(sealed.chunkIds()).hasSameSizeAs(plain.chunkIds()).doesNotContainAnyElementsOf(plain.chunkIds());
        }
    }

    @Test
    void aWrongPassphraseOrKeyIsAClearErrorBeforeAnythingIsRead() throws IOException {
        fx.directoryRepository("sealed", KeySource.passphrase("correct horse")).close();
        assertThatThrownBy(() -> fx.directoryRepository("sealed", KeySource.passphrase("battery staple")))
                .isInstanceOf(WrongKeyException.class).hasMessageContaining("wrong passphrase");
        assertThatThrownBy(() -> fx.directoryRepository("sealed", KeySource.none()))
                .isInstanceOf(WrongKeyException.class).hasMessageContaining("encrypted");

        Path key = dir.resolve("backup.key");
        Files.write(key, BackupFixture.randomBytes(32, 1));
        Path otherKey = dir.resolve("other.key");
        Files.write(otherKey, BackupFixture.randomBytes(32, 2));
        Snapshot snapshot = markedVolume();
        try (Repository repository = fx.directoryRepository("keyed", KeySource.keyFile(key))) {
            export(repository, snapshot);
        }
        assertThatThrownBy(() -> fx.directoryRepository("keyed", KeySource.keyFile(otherKey)))
                .isInstanceOf(WrongKeyException.class).hasMessageContaining("wrong key file");
        assertThatThrownBy(() -> fx.directoryRepository("keyed", KeySource.passphrase("correct horse")))
                .isInstanceOf(WrongKeyException.class).hasMessageContaining("key file");
        Files.write(otherKey, new byte[8]);
        assertThatThrownBy(() -> fx.directoryRepository("keyed", KeySource.keyFile(otherKey)))
                .isInstanceOf(WrongKeyException.class).hasMessageContaining("at least 32");
        try (Repository repository = fx.directoryRepository("keyed", KeySource.keyFile(key))) {
            fx.assertRestoresExactly(repository, snapshot, "r-");
        }
    }

    @Test
    void anObjectCopiedUnderAnotherNameFailsAuthentication() throws IOException {
        Snapshot snapshot = markedVolume();
        try (Repository repository = fx.directoryRepository("sealed", KeySource.passphrase("pw"))) {
            export(repository, snapshot);
            List<ChunkId> ids = repository.chunkIds();
            Path root = fx.repositoryDir("sealed");
            Files.copy(root.resolve(ids.get(0).objectKey()), root.resolve(ids.get(1).objectKey()),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertThat(new Verifier(repository, JobOptions.defaults()).verifyAll().problems())
                    .singleElement().satisfies(p -> {
                        assertThat(p.objectKey()).isEqualTo(ids.get(1).objectKey());
                        assertThat(p.detail()).contains("authentication");
                    });
        }
    }
}

package cgw.backup;

import static cgw.backup.BackupFixture.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import cgw.barrier.Snapshot;
import cgw.store.Volume;
import cgw.store.VolumeExistsException;
import cgw.store.VolumeInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DirectoryBackupTest {
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

    private ExportResult export(Repository repository, Snapshot snapshot, Snapshot parent) {
        return new Exporter(fx.store, repository, JobOptions.defaults(), "gw-test").export(snapshot, parent);
    }

    @Test
    void aGroupSnapshotRoundtripsByteForByteWithHolesZerosAndAShortLastChunk() {
        // 8 MiB and three sectors: the last chunk is short
        Volume db = fx.volume("db", 8 * MIB + 1536);
        Volume wal = fx.volume("wal", 4 * MIB);
        fx.fillRandom(db, 0, 3 * MIB, 1);
        fx.write(db, 5 * MIB + 100, "unaligned write".getBytes());
        fx.write(db, 8 * MIB + 1000, new byte[]{1, 2, 3});
        fx.store.writeZeroes(db, MIB, 64 << 10);
        fx.fillRandom(wal, 0, 128 << 10, 2);
        fx.barrier.createGroup("app", List.of("db", "wal"));
        Snapshot snapshot = fx.barrier.snapshotGroup("app", "nightly", java.time.Duration.ofSeconds(30));
        // the head moves on; the export must read the snapshot's epoch
        fx.fillRandom(db, 0, 2 * MIB, 3);

        try (Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            ExportResult result = export(repository, snapshot, null);
            assertThat(result.chunksWritten()).isPositive();
            assertThat(result.bytesRead()).as("holes are not read").isLessThan(4 * MIB + 1536);

            Manifest manifest = repository.readManifest(snapshot.id());
            assertThat(manifest.group()).isEqualTo("app");
            assertThat(manifest.label()).isEqualTo("nightly");
            assertThat(manifest.sourceGateway()).isEqualTo("gw-test");
            assertThat(manifest.volumes()).extracting(Manifest.VolumeEntry::name).containsExactly("db", "wal");
            assertThat(manifest.volumes().get(0).sizeBytes()).isEqualTo(8 * MIB + 1536);

            fx.assertRestoresExactly(repository, snapshot, "r-");
            assertThat(new Verifier(repository, JobOptions.defaults()).verifyAll().clean()).isTrue();

            // the names are taken now: refused before anything is created
            long before = fx.store.volumes().size();
            assertThatThrownBy(
                    () -> new Restorer(fx.store, repository, JobOptions.defaults()).restore(snapshot.id(), "r-"))
                    .isInstanceOf(VolumeExistsException.class).hasMessageContaining("r-db");
            assertThat(fx.store.volumes()).hasSize((int) before);
            assertThatThrownBy(() -> export(repository, snapshot, null)).isInstanceOf(SnapshotExistsException.class);
        }
    }

    @Test
    void anIncrementalExportOfA4GiBVolumeAfterChangingOnePercentWritesUnderTwoPercentAndRestoresExactly() {
        long size = 4L << 30;
        Volume disk = fx.volume("disk", size);
        fx.fillRandom(disk, 0, size, 10);
        Snapshot first = fx.snapshot("disk");
        // 1%: 163 writes of 256 KiB at random 4 KiB-aligned offsets, not chunk-aligned
        Random random = new Random(11);
        int pieces = (int) (size / 100 / (256 << 10));
        for (int i = 0; i < pieces; i++) {
            long offset = (random.nextLong(size - (256 << 10)) / 4096) * 4096;
            fx.write(disk, offset, BackupFixture.randomBytes(256 << 10, 100 + i));
        }
        Snapshot second = fx.snapshot("disk");

        try (Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            ExportResult full = export(repository, first, null);
            ExportResult incremental = export(repository, second, first);
            System.out.printf(
                    "full export wrote %d bytes, incremental after 1%% change %d bytes (%.2f%%), read %d bytes%n",
                    full.bytesWritten(), incremental.bytesWritten(),
                    100.0 * incremental.bytesWritten() / full.bytesWritten(), incremental.bytesRead());
            assertThat(incremental.bytesWritten()).isLessThanOrEqualTo(full.bytesWritten() / 50);
            assertThat(incremental.bytesRead()).as("only changed chunks are read").isLessThanOrEqualTo(size / 50);
            assertThat(repository.readManifest(second.id()).parentSnapshotId()).isEqualTo(first.id());

            // the incremental manifest is complete on its own (the full one restores in the test above)
            fx.assertRestoresExactly(repository, second, "new-");
        }
    }

    @Test
    void anIncrementalExportFollowsAGrownVolumeAndANewMemberOfTheGroup() {
        // a short last chunk that becomes a whole one, and a volume the parent did not have
        Volume a = fx.volume("a", 2 * MIB + 4096);
        fx.fillRandom(a, 0, 2 * MIB + 4096, 50);
        fx.barrier.createGroup("g", List.of("a"));
        Snapshot first = fx.barrier.snapshotGroup("g", null, java.time.Duration.ofSeconds(30));
        fx.store.grow(a, 4 * MIB);
        fx.write(a, 3 * MIB, BackupFixture.randomBytes(4096, 51));
        Volume b = fx.volume("b", MIB);
        fx.fillRandom(b, 0, MIB, 52);
        fx.barrier.setGroup("g", List.of("a", "b"));
        Snapshot second = fx.barrier.snapshotGroup("g", null, java.time.Duration.ofSeconds(30));
        try (Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            export(repository, first, null);
            ExportResult incremental = export(repository, second, first);
            // a's old short chunk, a's written chunk, and all of b
            assertThat(incremental.bytesRead()).isEqualTo(2L * (64 << 10) + MIB);
            fx.assertRestoresExactly(repository, second, "r-");
        }
    }

    @Test
    void aCorruptManifestIsReportedByVerifyAndACancelledRestoreLeavesNoVolume() throws Exception {
        Snapshot snapshot = fx.randomVolumeSnapshot("disk", 4 * MIB, 60);
        try (Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            export(repository, snapshot, null);
            JobOptions cancelAtOnce = JobOptions.defaults().withCancelled(() -> true);
            assertThatThrownBy(() -> new Restorer(fx.store, repository, cancelAtOnce).restore(snapshot.id(), "r-"))
                    .isInstanceOf(BackupCancelledException.class);
            assertThat(fx.store.volumes()).extracting(VolumeInfo::name).containsExactly("disk");

            Path manifest = fx.repositoryDir("repo").resolve(Manifest.objectKey(snapshot.id()));
            byte[] bytes = Files.readAllBytes(manifest);
            bytes[bytes.length - 40] ^= 1;
            Files.write(manifest, bytes);
            VerifyReport report = new Verifier(repository, JobOptions.defaults()).verifyAll();
            assertThat(report.problems()).singleElement().satisfies(p -> {
                assertThat(p.objectKey()).isEqualTo(Manifest.objectKey(snapshot.id()));
                assertThat(p.kind()).isEqualTo("corrupt");
            });
            assertThat(report.unreferencedChunks()).as("its chunks are still checked").isEqualTo(64);
        }
    }

    @Test
    void twoIdenticalVolumesAreStoredOnce() {
        Volume a = fx.volume("a", 16 * MIB);
        Volume b = fx.volume("b", 16 * MIB);
        fx.fillRandom(a, 0, 16 * MIB, 7);
        fx.fillRandom(b, 0, 16 * MIB, 7);
        Snapshot snapshot = fx.snapshot("a", "b");
        try (Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            ExportResult result = export(repository, snapshot, null);
            long chunkBytes = fx.bytesUnder("repo", "chunks/");
            System.out.printf("two identical 16 MiB volumes: %d chunk bytes in the repository%n", chunkBytes);
            assertThat(result.chunksWritten()).isEqualTo(256);
            assertThat(result.chunksReused()).isEqualTo(256);
            assertThat(chunkBytes).isBetween(16L * MIB, 16L * MIB * 101 / 100);
            fx.assertRestoresExactly(repository, snapshot, "r-");
        }
    }

    @Test
    void theBenchmarksMixOfDataTakesUnderFiftyFivePercentOfItsRawSize() {
        // the benchmark volume, scaled from 4 GiB: half random, a quarter repeating it, a quarter zeros
        long size = 64L * MIB;
        Volume disk = fx.volume("disk", size);
        fx.fillRandom(disk, 0, size / 2, 40);
        fx.fillRandom(disk, size / 2, size / 4, 40);
        fx.write(disk, 3 * size / 4, new byte[(int) (size / 4)]);
        Snapshot snapshot = fx.snapshot("disk");
        try (Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            ExportResult result = export(repository, snapshot, null);
            long stored = fx.bytesUnder("repo", "");
            long start = System.nanoTime();
            fx.assertRestoresExactly(repository, snapshot, "r-");
            long restoreNanos = System.nanoTime() - start;
            System.out.printf(
                    "mixed 64 MiB: repository %d bytes (%.3f of raw), export %.0f MB/s, restore+compare %.0f MB/s%n",
                    stored, (double) stored / size, size / (result.elapsedNanos() / 1e3), size / (restoreNanos / 1e3));
            assertThat(stored).isLessThanOrEqualTo(size * 55 / 100);
            assertThat(result.chunksReused()).isEqualTo(size / 4 / (64 << 10));
        }
    }

    @Test
    void aFlippedByteInAChunkIsFoundByVerifyAndFailsTheRestoreNamingTheChunk() throws Exception {
        Snapshot snapshot = fx.randomVolumeSnapshot("disk", 4 * MIB, 5);
        try (Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            export(repository, snapshot, null);
            Manifest.ChunkRef victim = repository.readManifest(snapshot.id()).volumes().get(0).chunks().get(10);
            Path file = fx.repositoryDir("repo").resolve(victim.id().objectKey());
            byte[] bytes = Files.readAllBytes(file);
            bytes[bytes.length / 2] ^= 0x40;
            Files.write(file, bytes);

            VerifyReport report = new Verifier(repository, JobOptions.defaults()).verifyAll();
            assertThat(report.problems()).singleElement().satisfies(p -> {
                assertThat(p.objectKey()).isEqualTo(victim.id().objectKey());
                assertThat(p.kind()).isEqualTo("corrupt");
                assertThat(p.snapshots()).containsExactly(snapshot.id());
            });
            assertThat(new Verifier(repository, JobOptions.defaults()).verifySnapshot(snapshot.id()).problems())
                    .hasSize(1);

            assertThatThrownBy(
                    () -> new Restorer(fx.store, repository, JobOptions.defaults()).restore(snapshot.id(), "r-"))
                    .isInstanceOfSatisfying(ChunkUnreadableException.class, e -> {
                        assertThat(e.chunkId()).isEqualTo(victim.id().hex());
                        assertThat(e.volume()).isEqualTo("disk");
                        assertThat(e.offsetBytes()).isEqualTo(10L * 64 * 1024);
                    })
                    .hasMessageContaining(victim.id().hex()).hasMessageContaining("corrupt");
            assertThat(fx.store.volumes()).extracting(VolumeInfo::name).as("a failed restore leaves nothing")
                    .containsExactly("disk");

            Files.delete(file);
            assertThat(new Verifier(repository, JobOptions.defaults()).verifyAll().problems())
                    .singleElement().satisfies(p -> assertThat(p.kind()).isEqualTo("missing"));
            assertThatThrownBy(
                    () -> new Restorer(fx.store, repository, JobOptions.defaults()).restore(snapshot.id(), "r-"))
                    .isInstanceOf(ChunkUnreadableException.class).hasMessageContaining("missing");
        }
    }

    @Test
    void anExportThatFailsHalfwayLeavesAValidRepositoryAndARerunReusesItsChunks() {
        Snapshot snapshot = fx.randomVolumeSnapshot("disk", 16 * MIB, 9);
        String target = fx.repositoryDir("repo").toUri().toString();
        fx.directoryRepository("repo", KeySource.none()).close();

        // the target fails every put after the 100th (the lock took one)
        try (Repository repository = Repository.open(new FaultyObjectStore(ObjectStore.open(target, null), 100),
                KeySource.none())) {
            assertThatThrownBy(() -> export(repository, snapshot, null)).hasMessageContaining("injected failure");
        }
        try (Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            assertThat(repository.snapshotIds()).as("no half manifest").isEmpty();
            VerifyReport report = new Verifier(repository, JobOptions.defaults()).verifyAll();
            assertThat(report.clean()).isTrue();
            assertThat(report.chunksChecked()).isEqualTo(99);

            ExportResult rerun = export(repository, snapshot, null);
            assertThat(rerun.chunksReused()).isEqualTo(99);
            assertThat(rerun.chunksWritten()).isEqualTo(256 - 99);
            fx.assertRestoresExactly(repository, snapshot, "r-");
        }
    }

    @Test
    void aCancelledExportLeavesNoManifestAndARerunCompletes() {
        Snapshot snapshot = fx.randomVolumeSnapshot("disk", 16 * MIB, 9);
        try (Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            AtomicLong progress = new AtomicLong();
            JobOptions cancelHalfway = JobOptions.defaults()
                    .withProgress((done, total) -> progress.set(done))
                    .withCancelled(() -> progress.get() >= 8 * MIB);
            assertThatThrownBy(() -> new Exporter(fx.store, repository, cancelHalfway, "gw").export(snapshot, null))
                    .isInstanceOf(BackupCancelledException.class);
            assertThat(repository.snapshotIds()).isEmpty();
            assertThat(new Verifier(repository, JobOptions.defaults()).verifyAll().clean()).isTrue();
            ExportResult rerun = export(repository, snapshot, null);
            assertThat(rerun.chunksReused()).isPositive();
            fx.assertRestoresExactly(repository, snapshot, "r-");
        }
    }

    @Test
    void pruneKeepsEveryKeptSnapshotRestorableAndRemovesUnreferencedChunks() {
        Volume disk = fx.volume("disk", 8 * MIB);
        fx.fillRandom(disk, 0, 8 * MIB, 20);
        try (Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            Snapshot previous = null;
            Snapshot[] snapshots = new Snapshot[4];
            for (int i = 0; i < 4; i++) {
                // each generation rewrites a different MiB
                fx.fillRandom(disk, i * MIB, MIB, 30 + i);
                snapshots[i] = fx.snapshot("disk");
                export(repository, snapshots[i], previous);
                previous = snapshots[i];
            }
            long chunksBefore = repository.chunkIds().size();

            PruneResult result = new Pruner(repository).keepLast(2);
            assertThat(result.deletedSnapshots()).containsExactly(snapshots[0].id(), snapshots[1].id());
            assertThat(result.keptSnapshots()).containsExactly(snapshots[2].id(), snapshots[3].id());
            // generation 0's MiB 0 and generation 1's MiB 1 were rewritten later: 32 chunks gone
            assertThat(result.chunksDeleted()).isEqualTo(32);
            assertThat(repository.chunkIds()).hasSize((int) chunksBefore - 32);

            VerifyReport report = new Verifier(repository, JobOptions.defaults()).verifyAll();
            assertThat(report.clean()).isTrue();
            assertThat(report.unreferencedChunks()).isZero();
            fx.assertRestoresExactly(repository, snapshots[2], "two-");
            fx.assertRestoresExactly(repository, snapshots[3], "three-");
            // the pruned base is gone: an incremental from it is refused, clearly
            Snapshot next = fx.snapshot("disk");
            assertThatThrownBy(() -> export(repository, next, snapshots[0]))
                    .isInstanceOf(SnapshotNotFoundException.class).hasMessageContaining("export it first");
        }
    }

    @Test
    void pruneAndExportExcludeEachOther() throws Exception {
        try (Repository repository = fx.directoryRepository("repo", KeySource.none())) {
            try (RepositoryLock export = repository.lock(false, "export")) {
                assertThatThrownBy(() -> new Pruner(repository).keepLast(1))
                        .isInstanceOf(RepositoryLockedException.class).hasMessageContaining("shared lock of export");
                repository.lock(false, "another export").close();
            }
            try (RepositoryLock prune = repository.lock(true, "prune")) {
                assertThatThrownBy(() -> repository.lock(false, "export"))
                        .isInstanceOf(RepositoryLockedException.class);
            }
            // a crashed holder's lock, last refreshed an hour ago: ignored, and removed by prune
            String stale = "locks/shared-crashed";
            Files.writeString(fx.repositoryDir("repo").resolve(stale), "{\"exclusive\":false,\"holder\":\"crashed\","
                    + "\"createdAtMillis\":0,\"refreshedAtMillis\":" + (System.currentTimeMillis() - 3_600_000) + "}");
            assertThat(new Pruner(repository).keepLast(1).deletedSnapshots()).isEmpty();
            try (Stream<Path> locks = Files.list(fx.repositoryDir("repo").resolve("locks"))) {
                assertThat(locks.toList()).as("locks are released").isEmpty();
            }
        }
    }

    @Test
    void targetsAreParsedStrictly() {
        assertThatThrownBy(() -> ObjectStore.open("file://relative/dir", null))
                .isInstanceOf(InvalidTargetException.class);
        assertThatThrownBy(() -> ObjectStore.open("ftp://host/x", null)).isInstanceOf(InvalidTargetException.class);
        assertThatThrownBy(() -> ObjectStore.open("s3:///prefix", null)).isInstanceOf(InvalidTargetException.class);
    }
}

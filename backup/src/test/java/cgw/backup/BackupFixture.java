package cgw.backup;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.barrier.GroupBarrier;
import cgw.barrier.Snapshot;
import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/** A real store and group barrier in a temporary directory, with helpers to fill and compare volumes. */
final class BackupFixture implements AutoCloseable {
    static final int MIB = 1 << 20;
    /** Cheap Argon2 for tests: the cost is a parameter, the code path is the same. */
    static final RepositoryOptions FAST_KDF = RepositoryOptions.defaults().withKdf(new KdfParams(1024, 1, 1));

    final Path dir;
    final BlockStore store;
    final GroupBarrier barrier;

    BackupFixture(Path dir) {
        this.dir = dir;
        this.store = BlockStore.open(dir.resolve("store"),
                StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false));
        this.barrier = GroupBarrier.open(store);
    }

    Volume volume(String name, long sizeBytes) {
        return store.createVolume(name, sizeBytes);
    }

    void write(Volume volume, long offset, byte[] data) {
        store.write(volume, offset, ByteBuffer.wrap(data));
    }

    /** Fills {@code [offset, offset + length)} with random bytes from {@code seed}, a MiB at a time. */
    void fillRandom(Volume volume, long offset, long length, long seed) {
        Random random = new Random(seed);
        for (long done = 0; done < length;) {
            byte[] piece = new byte[(int) Math.min(MIB, length - done)];
            random.nextBytes(piece);
            write(volume, offset + done, piece);
            done += piece.length;
        }
    }

    static byte[] randomBytes(int length, long seed) {
        byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    /** A volume {@code name} of random bytes, and a snapshot of it alone. */
    Snapshot randomVolumeSnapshot(String name, long sizeBytes, long seed) {
        Volume volume = volume(name, sizeBytes);
        fillRandom(volume, 0, sizeBytes, seed);
        return snapshot(name);
    }

    Snapshot snapshot(String... volumes) {
        return barrier.snapshotVolumes(List.of(volumes), "test", Duration.ofSeconds(30));
    }

    Repository directoryRepository(String name, KeySource key) {
        return Repository.openOrCreate(ObjectStore.open(dir.resolve(name).toUri().toString(), null), FAST_KDF, key);
    }

    Path repositoryDir(String name) {
        return dir.resolve(name);
    }

    /** Asserts that {@code restored}'s head holds exactly what {@code source} held at {@code epoch}. */
    void assertSameContent(Volume source, long epoch, String restored) {
        Volume copy = store.volume(restored);
        long size = store.sizeBytes(source, epoch);
        assertThat(copy.sizeBytes()).as("size of %s", restored).isEqualTo(size);
        for (long offset = 0; offset < size; offset += MIB) {
            int length = (int) Math.min(MIB, size - offset);
            ByteBuffer expected = ByteBuffer.allocate(length);
            ByteBuffer actual = ByteBuffer.allocate(length);
            store.read(source, epoch, offset, expected);
            store.read(copy, copy.headEpoch(), offset, actual);
            if (!expected.equals(actual)) {
                throw new AssertionError(
                        restored + " differs from " + source.name() + "@" + epoch + " in the MiB at " + offset);
            }
        }
    }

    void assertRestoresExactly(Repository repository, Snapshot snapshot, String prefix) {
        RestoreResult result = new Restorer(store, repository, JobOptions.defaults()).restore(snapshot.id(), prefix);
        for (Snapshot.Member member : snapshot.members()) {
            assertSameContent(store.volume(member.volume()), member.epoch(), result.volumes().get(member.volume()));
        }
    }

    /** Bytes of the files under a repository's directory whose path starts with {@code prefix}. */
    long bytesUnder(String repository, String prefix) {
        Path root = repositoryDir(repository);
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile)
                    .filter(p -> root.relativize(p).toString().startsWith(prefix))
                    .mapToLong(p -> {
                        try {
                            return Files.size(p);
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    }).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        barrier.close();
        store.close();
    }
}

package cgw.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;

/** What the store's tests share: small options without background threads, filled buffers, reads. */
final class StoreTesting {
    private StoreTesting() {
    }

    /** 64 MiB of cache, 16 MiB memtables, no background collector or defragmenter. */
    static StoreOptions options() {
        return StoreOptions.defaults().withCacheBytes(64 << 20, 16 << 20).withBackgroundGc(false);
    }

    static ByteBuffer filled(int length, int value) {
        byte[] bytes = new byte[length];
        Arrays.fill(bytes, (byte) value);
        return ByteBuffer.wrap(bytes);
    }

    static byte[] read(BlockStore store, Volume volume, long epoch, long offset, int length) {
        ByteBuffer dst = ByteBuffer.allocate(length);
        store.read(volume, epoch, offset, dst);
        return dst.array();
    }

    /** {@code count} 4 KiB blocks from {@code first} of version {@code version}: each block's bytes name both. */
    static ByteBuffer versioned(char version, int first, int count) {
        int block = 4096;
        ByteBuffer bytes = ByteBuffer.allocateDirect(count * block);
        for (int b = first; b < first + count; b++) {
            for (int at = 0; at < block; at += 8) {
                bytes.putLong(((long) version << 48) ^ ((long) b << 16) ^ at);
            }
        }
        return bytes.flip();
    }

    /** Copies a store's files as they are, as a killed process leaves them for a crash image. */
    static void copyFiles(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            files.forEach(file -> {
                try {
                    Files.copy(file, to.resolve(from.relativize(file).toString()));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}

package cgw.store;

import java.nio.ByteBuffer;
import java.util.Arrays;

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
}

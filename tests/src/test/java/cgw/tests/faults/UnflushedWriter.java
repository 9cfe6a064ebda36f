package cgw.tests.faults;

import cgw.store.BlockStore;
import cgw.store.StoreOptions;
import cgw.store.Volume;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * The child process of {@link PowerCutTest}: fills a volume with one pattern and flushes, seals
 * that epoch (or not, with {@code head}: the second write is then over blocks of the head epoch
 * that this open wrote, which is where the store may overwrite in place), then writes a second
 * pattern over it without flushing, with memtables small enough that RocksDB flushes several of
 * them meanwhile, and waits to be killed. After a cut the second pattern goes in 4 KiB writes in
 * a scattered order: each puts its region's record again, enough to fill several memtables (the
 * records of 64 KiB writes in order would fit in one). Prints {@code flushed} and {@code written}
 * as it gets there.
 *
 * <p>Arguments: the store directory, the volume size in MiB, {@code cut} or {@code head}.
 */
public final class UnflushedWriter {
    static final int WRITE_BYTES = 64 << 10;

    private UnflushedWriter() {
    }

    static StoreOptions options() {
        // the smallest memtables (4 MiB): RocksDB flushes some during a write of 128 MiB
        return StoreOptions.defaults().withCacheBytes(32 << 20, 4 << 20).withBackgroundGc(false);
    }

    public static void main(String[] args) throws InterruptedException {
        Path dir = Path.of(args[0]);
        long size = Long.parseLong(args[1]) << 20;
        BlockStore store = BlockStore.open(dir, options());
        Volume volume = store.createVolume("disk", size);
        write(store, volume, size, PowerCutTest.FLUSHED);
        store.flush();
        if (args[2].equals("cut")) {
            store.cut(volume);
            store.flush();
        }
        System.out.println("flushed");
        if (args[2].equals("cut")) {
            writeScattered(store, volume, size, PowerCutTest.UNFLUSHED);
        } else {
            write(store, volume, size, PowerCutTest.UNFLUSHED);
        }
        System.out.println("written");
        System.out.flush();
        new CountDownLatch(1).await(); // until killed
    }

    /** Every 4 KiB block once, in the order of a stride coprime with the block count. */
    private static void writeScattered(BlockStore store, Volume volume, long size, int pattern) {
        int block = 4096;
        long blocks = size / block;
        long stride = 7919; // prime: visits every block when the count is a power of two
        ByteBuffer buffer = ByteBuffer.allocateDirect(block);
        for (long i = 0, b = 0; i < blocks; i++, b = (b + stride) % blocks) {
            buffer.clear();
            PowerCutTest.fill(buffer, b * block, pattern);
            store.write(volume, b * block, buffer.flip());
        }
    }

    private static void write(BlockStore store, Volume volume, long size, int pattern) {
        ByteBuffer buffer = ByteBuffer.allocateDirect(WRITE_BYTES);
        for (long offset = 0; offset < size; offset += WRITE_BYTES) {
            buffer.clear();
            PowerCutTest.fill(buffer, offset, pattern);
            store.write(volume, offset, buffer.flip());
        }
    }
}

package cgw.replication;

import cgw.store.BlockStore;
import cgw.store.Volume;
import java.nio.ByteBuffer;
import org.jspecify.annotations.Nullable;

/**
 * Writes the data records of one block body into the heads, in their order, gathering whole
 * blocks of one volume that ascend into one {@link BlockStore#writeBlocks} call: a log append
 * and a RocksDB batch per 64 regions, where a write per record costs one each (and 4 KiB random
 * changes are a record per block). A record that is not whole blocks is written as it is.
 *
 * <p>One per body; threads: the one applying it, whose gathering buffer it uses.
 */
final class BlockApplier {
    private static final ThreadLocal<ByteBuffer> BUFFERS = ThreadLocal
            .withInitial(() -> ByteBuffer.allocateDirect(BlockBodies.MAX_RAW_BYTES));

    private final BlockStore store;
    private final int blockSize;
    private final ByteBuffer gathered = BUFFERS.get().clear();
    private final long[] blocks;
    private int count;
    private @Nullable Volume volume;

    BlockApplier(BlockStore store) {
        this.store = store;
        this.blockSize = store.blockSizeBytes();
        this.blocks = new long[BlockBodies.MAX_RAW_BYTES / blockSize];
    }

    /** The bytes of {@code data} (consumed) at {@code offset} of {@code target}. */
    void data(Volume target, long offset, ByteBuffer data) {
        int length = data.remaining();
        if (offset % blockSize != 0 || length % blockSize != 0) {
            finish();
            store.write(target, offset, data);
            return;
        }
        long first = offset / blockSize;
        if (target != volume || count > 0 && first <= blocks[count - 1] || gathered.remaining() < length) {
            finish();
        }
        volume = target;
        for (int i = 0; i < length / blockSize; i++) {
            blocks[count++] = first + i;
        }
        gathered.put(data);
    }

    /** Writes what was gathered; before any other record of the body, and at its end. */
    void finish() {
        if (count > 0 && volume != null) {
            store.writeBlocks(volume, blocks, count, gathered.flip());
        }
        gathered.clear();
        count = 0;
        volume = null;
    }
}

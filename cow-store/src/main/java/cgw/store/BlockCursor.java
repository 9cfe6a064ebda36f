package cgw.store;

import cgw.store.key.BlockKey;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.rocksdb.RocksIterator;

/**
 * An iterator over the versions of ascending blocks of one volume that moves only forward and
 * seeks only when stepping does not reach the key wanted (versions of one block are next to
 * each other, newest first). One thread; closes its iterator.
 */
final class BlockCursor implements AutoCloseable {
    private static final int MAX_STEPS = 2;
    final RocksIterator it;
    private final byte[] want = new byte[BlockKey.LENGTH];
    private final ByteBuffer wantBuffer = ByteBuffer.wrap(want);
    private final byte[] current = new byte[BlockKey.LENGTH];
    private final ByteBuffer currentBuffer = ByteBuffer.wrap(current);
    private boolean valid;
    private boolean exhausted;

    BlockCursor(RocksIterator it) {
        this.it = it;
    }

    /**
     * Moves to the first key at or after {@code (volume, block, ~epoch)} unless it is there
     * already: a step or two forward when that reaches it (the next block's newest version
     * usually follows the version just read), else a seek, which costs several times more.
     */
    void seek(long volumeId, long block, long epoch) {
        if (exhausted) {
            return;
        }
        BlockKey.encode(wantBuffer, volumeId, block, epoch);
        for (int step = 0; step < MAX_STEPS && valid && Arrays.compareUnsigned(current, want) < 0; step++) {
            next();
        }
        if (!exhausted && (!valid || Arrays.compareUnsigned(current, want) < 0)) {
            it.seek(want);
            load();
        }
    }

    /** Whether the cursor is on a version of {@code block}. */
    boolean at(long volumeId, long block) {
        return blockOf(volumeId) == block;
    }

    /** The block the cursor is on, or {@link Long#MAX_VALUE} when it is past the volume's keys. */
    long blockOf(long volumeId) {
        return valid && BlockKey.volumeId(currentBuffer) == volumeId
                ? BlockKey.blockIndex(currentBuffer)
                : Long.MAX_VALUE;
    }

    /** Whether the cursor is on exactly the key of the last {@link #seek}. */
    boolean atWanted() {
        return valid && Arrays.equals(current, want);
    }

    void next() {
        it.next();
        load();
    }

    private void load() {
        valid = it.isValid();
        if (valid) {
            it.key(current);
        } else {
            Rocks.checkStatus(it);
            exhausted = true;
        }
    }

    @Override
    public void close() {
        it.close();
    }
}

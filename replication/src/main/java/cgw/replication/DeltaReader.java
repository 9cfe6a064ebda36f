package cgw.replication;

import cgw.store.BlockStore;
import cgw.store.Extent;
import cgw.store.ExtentType;
import cgw.store.Volume;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import org.jspecify.annotations.Nullable;
import org.roaringbitmap.longlong.LongIterator;

/**
 * Reads what an epoch ships, volume by volume, into block bodies: with a base, the blocks changed
 * since it (the store's changed-block sets, never a scan; read in batches of scattered blocks),
 * as data or, where they read as zeros, as zeroes; without one, every allocated extent (holes
 * cost nothing). Bodies go to {@code sink} as they fill. Threads: one.
 */
final class DeltaReader {
    /** Longest range read or described at once. */
    static final long RUN_BYTES = 1 << 20;

    /** A volume to ship: its epoch in the shipped snapshot, and in the base (or null: ship it whole). */
    record Part(Volume volume, long epoch, @Nullable Long baseEpoch) {
    }

    /** What was sent: bodies, and bytes of the ranges described (data, zeroes and trims). */
    record Sent(long bodies, long describedBytes, long dataBytes) {
    }

    private final BlockStore store;
    private final long generation;
    private final long originSnapshot;
    private final Consumer<BlockBodies.Body> sink;
    /** The zstd level of each body, asked as it is packed. */
    private final IntSupplier level;
    private final BlockBodies.Builder builder;
    private final ByteBuffer buffer = ByteBuffer.allocate((int) RUN_BYTES);
    private final long[] batch;
    private static final byte[] ZEROS = new byte[(int) RUN_BYTES];
    private long bodies;
    private long described;
    private long data;

    DeltaReader(BlockStore store, long generation, long originSnapshot, IntSupplier level, BodyBuffers buffers,
            Consumer<BlockBodies.Body> sink) {
        this.store = store;
        this.level = level;
        this.builder = new BlockBodies.Builder(level.getAsInt(), buffers);
        this.generation = generation;
        this.originSnapshot = originSnapshot;
        this.sink = sink;
        this.batch = new long[(int) (RUN_BYTES / store.blockSizeBytes())];
    }

    Sent send(List<Part> parts) {
        try {
            for (int i = 0; i < parts.size(); i++) {
                part(i, parts.get(i));
            }
            if (!builder.isEmpty()) {
                flush();
            }
        } finally {
            builder.close();
        }
        return new Sent(bodies, described, data);
    }

    private void part(int index, Part part) {
        Volume volume = part.volume();
        long size = store.sizeBytes(volume, part.epoch());
        Long baseEpoch = part.baseEpoch();
        if (baseEpoch == null) {
            for (Extent extent : store.extents(volume, part.epoch(), 0, size)) {
                if (extent.type() != ExtentType.HOLE) {
                    extent(index, volume, part.epoch(), extent);
                }
            }
            return;
        }
        int block = store.blockSizeBytes();
        int n = 0;
        LongIterator changed = store.changedBlocks(volume, baseEpoch, part.epoch()).getLongIterator();
        while (changed.hasNext()) {
            long next = changed.next();
            if ((next + 1) * block > size) { // the last block, short: read on its own (after the ones before it)
                changedBlocks(index, volume, part.epoch(), n);
                n = 0;
                if (next * block < size) {
                    shortLastBlock(index, volume, part.epoch(), next * block, (int) (size - next * block));
                }
                continue;
            }
            batch[n++] = next;
            if (n == batch.length) {
                changedBlocks(index, volume, part.epoch(), n);
                n = 0;
            }
        }
        changedBlocks(index, volume, part.epoch(), n);
    }

    /**
     * The first {@code n} blocks of {@link #batch} (ascending, whole): one store call for all of
     * them, where random writes leave runs of one block; then each stretch of consecutive blocks
     * that read as zeros goes as a zeroes record and each other stretch as data.
     */
    private void changedBlocks(int index, Volume volume, long epoch, int n) {
        if (n == 0) {
            return;
        }
        int block = store.blockSizeBytes();
        buffer.clear().limit(n * block);
        store.readBlocks(volume, epoch, batch, n, buffer); // fills it, position unchanged
        for (int start = 0; start < n;) {
            boolean zeros = readsAsZeros(start * block, block);
            int end = start + 1;
            while (end < n && batch[end] == batch[end - 1] + 1 && readsAsZeros(end * block, block) == zeros) {
                end++;
            }
            emit(zeros ? BlockBodies.Kind.ZEROES : BlockBodies.Kind.DATA, index, batch[start] * block, start * block,
                    (end - start) * block);
            start = end;
        }
    }

    /** A volume's short last block: one read, one record. */
    private void shortLastBlock(int index, Volume volume, long epoch, long offset, int length) {
        buffer.clear().limit(length);
        store.read(volume, epoch, offset, buffer); // fills it, position unchanged
        emit(readsAsZeros(0, length) ? BlockBodies.Kind.ZEROES : BlockBodies.Kind.DATA, index, offset, 0, length);
    }

    private boolean readsAsZeros(int from, int length) {
        return Arrays.mismatch(buffer.array(), from, from + length, ZEROS, 0, length) < 0;
    }

    /** Records of {@code length} bytes at {@code offset}; data from {@link #buffer} at {@code at}, split over bodies. */
    private void emit(BlockBodies.Kind kind, int index, long offset, int at, int length) {
        for (int done = 0; done < length;) {
            if (builder.dataRoom() < store.blockSizeBytes()) {
                flush();
            }
            int piece = kind == BlockBodies.Kind.DATA ? Math.min(length - done, builder.dataRoom()) : length - done;
            builder.add(kind, index, offset + done, piece, buffer.slice(at + done, kind == BlockBodies.Kind.DATA
                    ? piece
                    : 0));
            if (kind == BlockBodies.Kind.DATA) {
                data += piece;
            }
            described += piece;
            done += piece;
        }
    }

    private void extent(int index, Volume volume, long epoch, Extent extent) {
        BlockBodies.Kind kind = switch (extent.type()) {
            case DATA -> BlockBodies.Kind.DATA;
            case ZERO -> BlockBodies.Kind.ZEROES;
            case HOLE -> BlockBodies.Kind.TRIM;
        };
        for (long offset = extent.offset(); offset < extent.end();) {
            if (builder.dataRoom() < store.blockSizeBytes()) {
                flush();
            }
            long piece = Math.min(extent.end() - offset, kind == BlockBodies.Kind.DATA
                    ? Math.min(RUN_BYTES, builder.dataRoom())
                    : Integer.MAX_VALUE & ~(store.blockSizeBytes() - 1L));
            buffer.clear();
            if (kind == BlockBodies.Kind.DATA) {
                buffer.limit((int) piece);
                store.read(volume, epoch, offset, buffer); // fills it, position unchanged
                data += piece;
            } else {
                buffer.limit(0);
            }
            builder.add(kind, index, offset, (int) piece, buffer);
            described += piece;
            offset += piece;
        }
    }

    private void flush() {
        builder.level(level.getAsInt());
        sink.accept(builder.finish(generation, originSnapshot));
        bodies++;
    }
}

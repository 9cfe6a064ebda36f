package cgw.replication;

import cgw.store.BlockStore;
import cgw.store.Extent;
import cgw.store.ExtentType;
import cgw.store.Volume;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Reads what an epoch ships, volume by volume, into block bodies: with a base, the blocks changed
 * since it (the store's changed-block sets, never a scan), each range as its extents at the epoch
 * say (data, zeroes, hole); without one, every allocated extent (holes cost nothing). Bodies go
 * to {@code sink} as they fill. Threads: one.
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
    private final Consumer<byte[]> sink;
    private final BlockBodies.Builder builder = new BlockBodies.Builder();
    private final ByteBuffer buffer = ByteBuffer.allocate((int) RUN_BYTES);
    private long bodies;
    private long described;
    private long data;

    DeltaReader(BlockStore store, long generation, long originSnapshot, Consumer<byte[]> sink) {
        this.store = store;
        this.generation = generation;
        this.originSnapshot = originSnapshot;
        this.sink = sink;
    }

    Sent send(List<Part> parts) {
        for (int i = 0; i < parts.size(); i++) {
            part(i, parts.get(i));
        }
        if (!builder.isEmpty()) {
            flush();
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
        BlockRuns.forEach(store.changedBlocks(volume, baseEpoch, part.epoch()), store.blockSizeBytes(), size,
                RUN_BYTES, (offset, length) -> {
                    for (Extent extent : store.extents(volume, part.epoch(), offset, length)) {
                        extent(index, volume, part.epoch(), extent);
                    }
                });
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
        sink.accept(builder.finish(generation, originSnapshot));
        bodies++;
    }
}

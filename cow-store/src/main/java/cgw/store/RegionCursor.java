package cgw.store;

import cgw.store.key.RegionKey;
import cgw.store.key.RegionRecord;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.rocksdb.RocksIterator;

/**
 * Walks the region records of one volume in ascending regions, moving only forward, and resolves
 * what a region holds at an epoch: for each of its blocks the newest version at or below the
 * epoch ({@link #resolve}). A region's records lie next to each other, newest first, and the
 * next region's follow, so a walk over a range written in one epoch steps instead of seeking.
 * One thread; closes its iterator.
 */
final class RegionCursor implements AutoCloseable {
    private static final int MAX_STEPS = 2;
    private final RocksIterator it;
    private final byte[] want = new byte[RegionKey.LENGTH];
    private final ByteBuffer wantBuffer = ByteBuffer.wrap(want);
    private final byte[] current = new byte[RegionKey.LENGTH];
    private final ByteBuffer currentBuffer = ByteBuffer.wrap(current);
    private final ByteBuffer value = ByteBuffer.allocateDirect(RegionRecord.MAX_LENGTH);
    private final RegionRecord resolved;
    /** Per slot of {@link #resolved}: the epoch of the record its version is in. */
    private final long[] slotEpochs = new long[RegionRecord.SLOTS];
    private boolean valid;
    private boolean exhausted;
    private long resolvedVolume = -1;
    private long resolvedRegion = -1;
    private long resolvedEpoch = -1;

    RegionCursor(RocksIterator it, int blockShift) {
        this.it = it;
        this.resolved = new RegionRecord(blockShift);
    }

    /**
     * The versions the blocks of {@code region} have at {@code epoch}: slot {@code i} present
     * holds the newest version of block {@code region * SLOTS + i} at or below the epoch; absent,
     * the block has none (a clone's read falls through to its parent). Valid until the next call.
     */
    RegionRecord resolve(long volumeId, long region, long epoch) {
        if (volumeId == resolvedVolume && region == resolvedRegion && epoch == resolvedEpoch) {
            return resolved;
        }
        resolved.clear();
        resolvedVolume = volumeId;
        resolvedRegion = region;
        resolvedEpoch = epoch;
        seek(volumeId, region, epoch);
        while (valid && RegionKey.volumeId(currentBuffer) == volumeId && RegionKey.region(currentBuffer) == region) {
            long recordEpoch = RegionKey.epoch(currentBuffer);
            int before = resolved.mask();
            RegionRecords.decode(resolved, value, it.value(value.clear()), true, volumeId, region, recordEpoch);
            for (int added = resolved.mask() & ~before; added != 0; added &= added - 1) {
                slotEpochs[Integer.numberOfTrailingZeros(added)] = recordEpoch;
            }
            if (resolved.mask() == (1 << RegionRecord.SLOTS) - 1) {
                break; // older records hide nothing more
            }
            next();
        }
        return resolved;
    }

    /** The epoch of the record that holds slot {@code slot} of the last {@link #resolve}d region. */
    long epochOf(int slot) {
        if (!resolved.has(slot)) {
            throw new IllegalStateException("slot " + slot + " of region " + resolvedRegion + " has no version");
        }
        return slotEpochs[slot];
    }

    /**
     * The first region at or after {@code region} of the volume with a record at or below
     * {@code epoch}, or {@link Long#MAX_VALUE} when there is none: a walk over a long stretch of
     * a volume nothing was written to skips it with a seek or two.
     */
    long nextRegion(long volumeId, long region, long epoch) {
        long at = region;
        while (true) {
            seek(volumeId, at, epoch);
            if (!valid || RegionKey.volumeId(currentBuffer) != volumeId) {
                return Long.MAX_VALUE;
            }
            long found = RegionKey.region(currentBuffer);
            if (found != at && RegionKey.epoch(currentBuffer) > epoch) {
                at = found; // only records newer than the epoch here: look at its older ones
                if (seekLands(volumeId, at, epoch)) {
                    return at;
                }
                at++;
                continue;
            }
            return found;
        }
    }

    /** Seeks to {@code (volume, region, ~epoch)}: whether that lands on a record of the region. */
    private boolean seekLands(long volumeId, long region, long epoch) {
        seek(volumeId, region, epoch);
        return valid && RegionKey.volumeId(currentBuffer) == volumeId && RegionKey.region(currentBuffer) == region;
    }

    /**
     * Moves to the first key at or after {@code (volume, region, ~epoch)} unless it is there
     * already: a step or two forward when that reaches it (the next region's newest record usually
     * follows the record just read), else a seek, which costs several times more.
     */
    private void seek(long volumeId, long region, long epoch) {
        if (exhausted) {
            return;
        }
        RegionKey.encode(wantBuffer, volumeId, region, epoch);
        for (int step = 0; step < MAX_STEPS && valid && Arrays.compareUnsigned(current, want) < 0; step++) {
            next();
        }
        if (!exhausted && (!valid || Arrays.compareUnsigned(current, want) < 0)) {
            it.seek(want);
            load();
        }
    }

    private void next() {
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

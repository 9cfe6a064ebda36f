package cgw.store.crash;

import cgw.store.BlockStore;
import cgw.store.Extent;
import cgw.store.ExtentType;
import cgw.store.Volume;
import cgw.store.VolumeInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reopens the store a {@link CrashWriter} left behind (killed, or killed and then a power cut) and
 * checks what a user would: the volume is there with its size, it is a valid recovered state of
 * the journal ({@link RecoveryCheck}), holes and zero extents read as zeros; every retained
 * snapshot cut in this round is a valid state of what that cut sealed, and every older one reads
 * exactly as it did; every clone reads exactly as the snapshot it was made of.
 */
final class RecoveredStore {
    /** What was read: the volume and its retained snapshots, the base of the next round. */
    record State(byte[] head, Map<Long, byte[]> snapshots) {
        static State empty() {
            return new State(new byte[(int) CrashWriter.VOLUME_SIZE_BYTES], Map.of());
        }
    }

    private RecoveredStore() {
    }

    /** Checks the store in {@code storeDir}; throws an {@link AssertionError} naming {@code where}. */
    static State check(Path storeDir, Journal.History history, State before, String where, boolean powerCut) {
        List<String> violations = new ArrayList<>();
        byte[] head = new byte[before.head().length];
        Map<Long, byte[]> snapshots = new HashMap<>();
        try (BlockStore store = BlockStore.open(storeDir, CrashWriter.storeOptions())) {
            Volume volume = store.volume(CrashWriter.VOLUME);
            if (volume.sizeBytes() != CrashWriter.VOLUME_SIZE_BYTES) {
                throw new AssertionError(where + ": the volume's size is " + volume.sizeBytes());
            }
            int blockSize = store.blockSizeBytes();
            store.read(volume, 0, ByteBuffer.wrap(head));
            checkZeroExtents(store, volume, head, where);
            violations.addAll(RecoveryCheck.run(history, before.head(), head, blockSize, powerCut));
            for (long epoch : store.retainedEpochs(volume)) {
                byte[] sealed = read(store, volume, epoch);
                snapshots.put(epoch, sealed);
                byte[] known = before.snapshots().get(epoch);
                if (known != null) {
                    if (!Arrays.equals(known, sealed)) {
                        violations.add("SNAPSHOT CHANGED: epoch " + epoch + " differs from what it held"
                                + " before this round, first at byte " + Arrays.mismatch(known, sealed));
                    }
                    continue;
                }
                Journal.Cut cut = cutOf(history, epoch);
                if (cut == null) {
                    violations.add("SNAPSHOT FROM NOWHERE: epoch " + epoch + " is retained, and no cut of this round"
                            + " sealed it");
                    continue;
                }
                for (String violation : RecoveryCheck.run(history.sealedBy(cut), before.head(), sealed, blockSize,
                        true)) {
                    violations.add("snapshot " + epoch + ": " + violation);
                }
            }
            for (VolumeInfo info : store.volumes()) {
                if (!info.name().startsWith(CrashWriter.CLONE_PREFIX)) {
                    continue;
                }
                byte[] parent = snapshots.getOrDefault(info.parentEpoch(), before.snapshots().get(info.parentEpoch()));
                byte[] clone = new byte[head.length];
                store.read(store.volume(info.name()), 0, ByteBuffer.wrap(clone));
                if (parent != null && !Arrays.equals(parent, clone)) {
                    violations.add("CLONE DIFFERS: " + info.name() + " of epoch " + info.parentEpoch()
                            + " differs from it first at byte " + Arrays.mismatch(parent, clone));
                }
            }
            // the writer's children die before a cleaner round of theirs ends: without this the
            // log only grows, and every open of thousands of segments slows the rounds down
            store.collectGarbage();
        } catch (RuntimeException e) {
            throw new AssertionError(where + ": reopening and reading the store failed: " + e, e);
        }
        if (!violations.isEmpty()) {
            throw new AssertionError(where + ": the recovered store is not a valid state (" + history.ops().size()
                    + " operations started, " + history.acknowledgedCount() + " acknowledged, "
                    + history.durableCount() + " flushed):\n  " + String.join("\n  ", violations));
        }
        return new State(head, Map.copyOf(snapshots));
    }

    /** The cut that sealed {@code epoch}; one killed before it was journaled names no epoch and may be it. */
    private static Journal.Cut cutOf(Journal.History history, long epoch) {
        Journal.Cut unnamed = null;
        for (Journal.Cut cut : history.cuts()) {
            if (cut.epoch() == epoch) {
                return cut;
            }
            if (cut.epoch() < 0) {
                unnamed = cut;
            }
        }
        return unnamed;
    }

    private static byte[] read(BlockStore store, Volume volume, long epoch) {
        byte[] bytes = new byte[(int) CrashWriter.VOLUME_SIZE_BYTES];
        store.read(volume, epoch, 0, ByteBuffer.wrap(bytes));
        return bytes;
    }

    private static void checkZeroExtents(BlockStore store, Volume volume, byte[] head, String where) {
        for (Extent extent : store.extents(volume, volume.headEpoch(), 0, head.length)) {
            if (extent.type() != ExtentType.DATA) {
                for (long p = extent.offset(); p < extent.end(); p++) {
                    if (head[(int) p] != 0) {
                        throw new AssertionError(where + ": " + extent + " reads non-zero byte at " + p);
                    }
                }
            }
        }
    }
}

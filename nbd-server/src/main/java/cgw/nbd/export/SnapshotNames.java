package cgw.nbd.export;

import cgw.store.Volume;
import java.util.OptionalLong;

/**
 * Maps the {@code SNAPSHOT} part of an export name {@code VOLUME@SNAPSHOT} to an epoch of the
 * volume. The group barrier's snapshot catalog provides the real mapping; {@link #retainedEpochs}
 * reads the part as a retained epoch number.
 */
@FunctionalInterface
public interface SnapshotNames {
    OptionalLong epochOf(Volume volume, String snapshot);

    /** Whether a snapshot of that name exists on any volume; only worded into refusals. */
    default boolean exists(String snapshot) {
        return true;
    }

    /** {@code VOLUME@N}: retained epoch N of the volume. */
    static SnapshotNames retainedEpochs(cgw.store.BlockStore store) {
        return (volume, snapshot) -> {
            if (!snapshot.matches("[1-9][0-9]{0,18}")) {
                return OptionalLong.empty();
            }
            long epoch = Long.parseLong(snapshot);
            return store.retainedEpochs(volume).contains(epoch) ? OptionalLong.of(epoch) : OptionalLong.empty();
        };
    }
}

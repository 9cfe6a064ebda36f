package cgw.store;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * An immutable description of a volume at one moment, for listing and the API.
 *
 * @param parent      name of the volume this one was cloned from, or null
 * @param parentEpoch the parent's epoch this clone falls through to, 0 without a parent
 * @param headEpoch   the epoch writes go to now
 * @param retainedEpochs epochs cut and not yet released, oldest first
 */
public record VolumeInfo(
        String name,
        long id,
        long sizeBytes,
        long createdAtMillis,
        @Nullable String parent,
        long parentEpoch,
        long headEpoch,
        List<Long> retainedEpochs) {
}

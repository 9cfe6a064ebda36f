package cgw.backup;

import java.util.Map;

/**
 * What a restore did.
 *
 * @param volumes      each volume of the snapshot and the volume it was restored to
 * @param chunksRead   data chunks read, checked and written
 * @param bytesWritten bytes written to the store (zero chunks are not written)
 */
public record RestoreResult(long snapshotId, Map<String, String> volumes, long chunksRead, long bytesWritten,
        long elapsedNanos) {
}

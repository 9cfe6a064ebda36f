package cgw.backup;

/**
 * What an export did.
 *
 * @param bytesRead     bytes read from the store (data chunks only: holes and zeros cost nothing)
 * @param chunksWritten chunks new to the repository
 * @param chunksReused  data chunks already in the repository (or written earlier in this export)
 * @param zeroChunks    chunks read and found all zeros (holes are not even read)
 * @param bytesWritten  bytes put to the target: new chunks and the manifest
 * @param manifestBytes of which the manifest
 */
public record ExportResult(long snapshotId, long parentSnapshotId, long bytesRead, long chunksWritten,
        long chunksReused, long zeroChunks, long bytesWritten, long manifestBytes, long elapsedNanos) {
}

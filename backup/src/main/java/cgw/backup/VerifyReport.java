package cgw.backup;

import java.util.List;

/**
 * What a verify found. Clean when {@link #problems} is empty.
 *
 * @param manifestsChecked   manifests read and decoded
 * @param chunksChecked      chunks read, decoded and re-hashed
 * @param bytesChecked       plaintext bytes of those chunks
 * @param unreferencedChunks chunks no manifest names (prune removes them)
 * @param problems           each missing or corrupt object, with the snapshots that need it
 */
public record VerifyReport(int manifestsChecked, long chunksChecked, long bytesChecked, long unreferencedChunks,
        List<Problem> problems) {
    public VerifyReport {
        problems = List.copyOf(problems);
    }

    public boolean clean() {
        return problems.isEmpty();
    }

    /** A broken object. {@code kind} is {@code missing} or {@code corrupt}. */
    public record Problem(String objectKey, String kind, String detail, List<Long> snapshots) {
        public Problem {
            snapshots = List.copyOf(snapshots);
        }
    }
}

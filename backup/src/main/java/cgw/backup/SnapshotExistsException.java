package cgw.backup;

/** The repository already holds a manifest for this snapshot (REST 409). */
public class SnapshotExistsException extends BackupException {
    public SnapshotExistsException(String message) {
        super(message);
    }
}

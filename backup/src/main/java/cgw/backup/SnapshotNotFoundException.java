package cgw.backup;

/** The repository holds no manifest for this snapshot (REST 404). */
public class SnapshotNotFoundException extends BackupException {
    public SnapshotNotFoundException(String message) {
        super(message);
    }
}

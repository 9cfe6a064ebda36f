package cgw.backup;

/** The job was cancelled; what it wrote stays valid and a rerun reuses it. */
public class BackupCancelledException extends BackupException {
    public BackupCancelledException(String message) {
        super(message);
    }
}

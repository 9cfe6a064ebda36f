package cgw.backup;

/**
 * The manifest a repository holds under an incremental export's base id describes another
 * snapshot (one of another gateway, or of this one before its store was replaced): building on
 * it would give a backup of blocks that were never together (REST 409).
 */
public class BaseMismatchException extends BackupException {
    public BaseMismatchException(String message) {
        super(message);
    }
}

package cgw.backup;

/** A backup target that cannot be parsed or used (REST 400). */
public class InvalidTargetException extends BackupException {
    public InvalidTargetException(String message) {
        super(message);
    }
}

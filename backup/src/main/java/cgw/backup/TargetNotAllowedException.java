package cgw.backup;

/** A {@code file://} target or source outside the gateway's backup roots (REST 403). */
public class TargetNotAllowedException extends BackupException {
    public TargetNotAllowedException(String message) {
        super(message);
    }
}

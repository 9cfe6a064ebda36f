package cgw.backup;

/**
 * Base of the backup's failures. Subclasses name what went wrong in terms a REST layer maps to a
 * status; a bare {@code BackupException} is a failure of the target itself (I/O, S3) and carries
 * the cause.
 */
public class BackupException extends RuntimeException {
    public BackupException(String message) {
        super(message);
    }

    public BackupException(String message, Throwable cause) {
        super(message, cause);
    }
}

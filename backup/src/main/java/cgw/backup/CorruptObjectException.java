package cgw.backup;

/** An object whose bytes do not decode, decrypt, or hash to its name. */
public class CorruptObjectException extends BackupException {
    public CorruptObjectException(String message) {
        super(message);
    }

    public CorruptObjectException(String message, Throwable cause) {
        super(message, cause);
    }
}

package cgw.backup;

/** The passphrase or key file does not open the repository's master key. */
public class WrongKeyException extends BackupException {
    public WrongKeyException(String message) {
        super(message);
    }
}

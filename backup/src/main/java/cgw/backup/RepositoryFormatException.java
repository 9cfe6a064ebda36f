package cgw.backup;

/** The repository is not one this code reads (unknown format, version or parameters). */
public class RepositoryFormatException extends BackupException {
    public RepositoryFormatException(String message) {
        super(message);
    }
}

package cgw.backup;

/** An object the repository needs is not in the target. */
public class ObjectNotFoundException extends BackupException {
    public ObjectNotFoundException(String message) {
        super(message);
    }
}

package cgw.backup;

/** Another process holds a lock on the repository that conflicts with ours (REST 409). */
public class RepositoryLockedException extends BackupException {
    public RepositoryLockedException(String message) {
        super(message);
    }
}

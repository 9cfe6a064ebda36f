package cgw.backup;

import java.nio.file.Path;

/**
 * How a gateway or the CLI reaches its repositories: the S3 settings for {@code s3://} targets,
 * the key that opens (or encrypts new) repositories, and where {@code file://} ones may lie.
 * Immutable.
 */
public record RepositoryAccess(S3Settings s3, KeySource key, BackupRoots roots) {
    /** Repositories anywhere the user can reach: for the CLI, which runs with its user's rights. */
    public RepositoryAccess(S3Settings s3, KeySource key) {
        this(s3, key, BackupRoots.anywhere());
    }

    /** The environment variable holding a repository passphrase; never a command-line argument. */
    public static final String PASSPHRASE_VARIABLE = "CGW_BACKUP_PASSPHRASE";

    /** The same access, with {@code file://} repositories confined to {@code confinedTo}. */
    public RepositoryAccess withRoots(BackupRoots confinedTo) {
        return new RepositoryAccess(s3, key, confinedTo);
    }

    /**
     * The key from a key file or a passphrase (from {@link #PASSPHRASE_VARIABLE}), else none
     * (unencrypted); both at once is refused, since either could be the one meant.
     */
    public static KeySource key(Path keyFile, String passphrase) {
        boolean hasPassphrase = passphrase != null && !passphrase.isEmpty();
        if (keyFile != null && hasPassphrase) {
            throw new IllegalArgumentException("both a key file and $" + PASSPHRASE_VARIABLE + " are set; unset one");
        }
        if (keyFile != null) {
            return KeySource.keyFile(keyFile);
        }
        return hasPassphrase ? KeySource.passphrase(passphrase) : KeySource.none();
    }

    /** Opens the repository at {@code target}, creating it when {@code create} and the target holds none. */
    public Repository open(String target, boolean create) {
        ObjectStore objects = ObjectStore.open(target, s3, roots);
        try {
            return create
                    ? Repository.openOrCreate(objects, RepositoryOptions.defaults(), key)
                    : Repository.open(objects, key);
        } catch (RuntimeException e) {
            objects.close();
            throw e;
        }
    }
}

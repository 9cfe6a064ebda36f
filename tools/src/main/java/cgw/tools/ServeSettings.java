package cgw.tools;

import cgw.backup.RepositoryAccess;
import java.nio.file.Path;
import java.util.List;

/**
 * What {@code cgw serve} was asked to run, validated by {@link ServeCommand}. Immutable.
 *
 * @param dataDir   as the user gave it; RocksDB, the API token and later the TLS material live here
 * @param nbdSocket null when NBD is not also served on a Unix socket
 */
record ServeSettings(Path dataDir, HostPort nbd, Path nbdSocket, HostPort http, boolean tls, Backups backups) {
    /**
     * How backup jobs run.
     *
     * @param access             S3 settings and key; {@code file://} confinement comes from {@code roots}
     * @param roots              the only directories of {@code file://} repositories; empty for
     *                           {@link #defaultBackupRoot}
     * @param rateBytesPerSecond what all jobs together may read a second, 0 for no limit
     * @param maxRunning         jobs run at once
     */
    record Backups(RepositoryAccess access, List<Path> roots, long rateBytesPerSecond, int maxRunning) {
    }

    /** {@code DATA/backups}: where repositories may lie when no {@code --backup-root} is given. */
    Path defaultBackupRoot() {
        return dataDir.resolve("backups");
    }

    Path storeDir() {
        return dataDir.resolve("store");
    }

    Path tokenFile() {
        return dataDir.resolve("api-token");
    }

    /** The token for GET calls and {@code /metrics} only. */
    Path readTokenFile() {
        return dataDir.resolve("read-token");
    }
}

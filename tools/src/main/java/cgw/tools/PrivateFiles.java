package cgw.tools;

import cgw.host.Libc;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps what {@code cgw serve} writes to its owner: a umask of 077 for the whole process (RocksDB,
 * the value log, TLS material and backup repositories all create files with the process's umask,
 * and RocksDB has no option for a mode), and the data directory itself made or narrowed to 0700,
 * which also covers files that an older gateway made readable by others. Runs once, on the serve
 * thread, before anything is created.
 */
final class PrivateFiles {
    private static final Logger log = LoggerFactory.getLogger(PrivateFiles.class);
    private static final int OWNER_ONLY_UMASK = 0077;
    static final Set<PosixFilePermission> OWNER_ONLY_DIRECTORY = PosixFilePermissions.fromString("rwx------");

    private PrivateFiles() {
    }

    static void apply(Path dataDir) {
        try {
            Libc.load().umask(OWNER_ONLY_UMASK);
        } catch (LinkageError | RuntimeException e) {
            // the data directory's own mode still keeps others out
            log.warn("cannot set the umask to 077; files are made with the inherited one: {}", e.toString());
        }
        try {
            if (!Files.isDirectory(dataDir)) {
                Files.createDirectories(dataDir, PosixFilePermissions.asFileAttribute(OWNER_ONLY_DIRECTORY));
            }
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(dataDir);
            if (!mode.equals(OWNER_ONLY_DIRECTORY)) {
                Files.setPosixFilePermissions(dataDir, OWNER_ONLY_DIRECTORY);
                log.info("{} had mode {}; now {}: it holds every volume and the API token", dataDir,
                        PosixFilePermissions.toString(mode), PosixFilePermissions.toString(OWNER_ONLY_DIRECTORY));
            }
        } catch (IOException e) {
            throw new ServeException("cannot make " + dataDir + " private (mode 0700): " + e, e);
        }
    }
}

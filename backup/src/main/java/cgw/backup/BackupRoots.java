package cgw.backup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The directories where {@code file://} repositories may lie ({@code cgw serve --backup-root}),
 * so that an API token cannot make the gateway (often root) write or read files anywhere. A
 * target is judged by the path it resolves to: its deepest existing ancestor with every symlink
 * resolved, then the rest of it, which must not climb out with {@code ..}. The repository is then
 * opened at that resolved path, so what was checked is what is used. Immutable.
 */
public final class BackupRoots {
    /** Real paths of the roots; null means anywhere (the CLI, which runs as its user). */
    private final List<Path> roots;

    private BackupRoots(List<Path> roots) {
        this.roots = roots;
    }

    /** No confinement: for tools that run with their user's own rights. */
    public static BackupRoots anywhere() {
        return new BackupRoots(null);
    }

    /**
     * Confinement to {@code dirs}, which must exist.
     *
     * @throws IllegalArgumentException naming a directory that does not exist or cannot be resolved
     */
    public static BackupRoots of(List<Path> dirs) {
        if (dirs.isEmpty()) {
            throw new IllegalArgumentException("at least one backup root is needed");
        }
        List<Path> real = new ArrayList<>();
        for (Path dir : dirs) {
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException("backup root " + dir + " is not a directory");
            }
            try {
                real.add(dir.toRealPath());
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot resolve backup root " + dir + ": " + e.getMessage(), e);
            }
        }
        return new BackupRoots(List.copyOf(real));
    }

    /**
     * The resolved path of {@code target} when it lies in a root (the root itself included).
     *
     * @throws TargetNotAllowedException when it lies elsewhere
     */
    Path confine(Path target) {
        if (roots == null) {
            return target;
        }
        Path resolved = resolve(target.toAbsolutePath());
        for (Path root : roots) {
            if (resolved.startsWith(root)) {
                return resolved;
            }
        }
        throw new TargetNotAllowedException("file://" + target + " is outside the backup roots " + roots
                + " (cgw serve --backup-root)");
    }

    /** {@code path} with its existing part resolved to a real path and the rest appended as written. */
    private static Path resolve(Path path) {
        Path existing = path;
        List<Path> missing = new ArrayList<>();
        while (existing != null) {
            try {
                Path real = existing.toRealPath();
                for (int i = missing.size() - 1; i >= 0; i--) {
                    String name = missing.get(i).toString();
                    if (name.equals("..")) {
                        // where '..' below a missing directory leads is only known once it exists
                        throw new TargetNotAllowedException("file://" + path
                                + " has '..' below a directory that does not exist");
                    }
                    real = name.equals(".") ? real : real.resolve(name);
                }
                return real;
            } catch (NoSuchFileException e) {
                missing.add(existing.getFileName());
                existing = existing.getParent();
            } catch (IOException e) {
                throw new InvalidTargetException("cannot resolve file://" + path + ": " + e.getMessage());
            }
        }
        throw new InvalidTargetException("cannot resolve file://" + path);
    }

    @Override
    public String toString() {
        return roots == null ? "anywhere" : roots.toString();
    }
}

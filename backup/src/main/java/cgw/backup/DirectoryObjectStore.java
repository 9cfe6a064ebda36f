package cgw.backup;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Objects as files under a directory, key {@code a/b/c} at {@code DIR/a/b/c}. A put writes a
 * temporary file {@code .tmp-UUID} beside the target, syncs it, and renames (or, for
 * put-if-absent, hard-links) it into place: a crash leaves the old object, the new one, or a
 * temporary file that {@link #removeIncomplete} deletes, never a torn object. The directory is
 * synced later, by {@link #sync}, once for all the puts since the last one: a lost rename only
 * loses a chunk that no manifest names yet, and halves the syncs of an export. Safe from any
 * thread; the set of directories to sync is concurrent.
 */
final class DirectoryObjectStore implements ObjectStore {
    private static final Logger LOG = LoggerFactory.getLogger(DirectoryObjectStore.class);
    static final String TEMP_PREFIX = ".tmp-";

    private final Path root;
    /** Directories holding renames not yet synced. */
    private final Set<Path> unsyncedDirectories = ConcurrentHashMap.newKeySet();

    DirectoryObjectStore(Path root) {
        this.root = root.toAbsolutePath().normalize();
        try {
            Files.createDirectories(this.root);
        } catch (IOException e) {
            throw new BackupException("cannot create backup directory " + this.root + ": " + e.getMessage(), e);
        }
    }

    private Path path(String key) {
        if (key.isEmpty() || key.startsWith("/") || key.contains("..") || key.contains("\\")) {
            throw new IllegalArgumentException("bad object key: " + key);
        }
        return root.resolve(key);
    }

    @Override
    public void put(String key, byte[] data) {
        Path target = path(key);
        try {
            Path temp = writeTemp(target, data);
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            unsyncedDirectories.add(target.getParent());
        } catch (IOException e) {
            throw failure("put", key, e);
        }
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) {
        Path target = path(key);
        if (Files.exists(target)) {
            return false;
        }
        try {
            Path temp = writeTemp(target, data);
            try {
                // link(2) fails when the name exists, where rename(2) would replace it
                Files.createLink(target, temp);
                unsyncedDirectories.add(target.getParent());
                return true;
            } catch (FileAlreadyExistsException e) {
                return false;
            } finally {
                Files.delete(temp);
            }
        } catch (IOException e) {
            throw failure("put", key, e);
        }
    }

    private Path writeTemp(Path target, byte[] data) throws IOException {
        Path dir = target.getParent();
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            // the new directory's own entry must reach the disk before objects in it count
            syncDirectory(dir.getParent());
        }
        Path temp = dir.resolve(TEMP_PREFIX + UUID.randomUUID());
        try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer src = ByteBuffer.wrap(data);
            while (src.hasRemaining()) {
                channel.write(src);
            }
            channel.force(true);
        }
        return temp;
    }

    private static void syncDirectory(Path dir) throws IOException {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    @Override
    public void sync() {
        for (Path dir : unsyncedDirectories) {
            // removed before the sync: a rename after this point is not lost
            unsyncedDirectories.remove(dir);
            try {
                syncDirectory(dir);
            } catch (IOException e) {
                unsyncedDirectories.add(dir);
                throw failure("sync", root.relativize(dir).toString(), e);
            }
        }
    }

    @Override
    public byte[] get(String key) {
        try {
            return Files.readAllBytes(path(key));
        } catch (NoSuchFileException e) {
            throw new ObjectNotFoundException("no object " + key + " in " + describe());
        } catch (IOException e) {
            throw failure("get", key, e);
        }
    }

    @Override
    public boolean exists(String key) {
        return Files.isRegularFile(path(key));
    }

    @Override
    public List<String> list(String prefix) {
        int slash = prefix.lastIndexOf('/');
        Path dir = slash < 0 ? root : path(prefix.substring(0, slash));
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<String> keys = new ArrayList<>();
        try (Stream<Path> files = Files.walk(dir)) {
            files.filter(Files::isRegularFile)
                    .filter(p -> !p.getFileName().toString().startsWith(TEMP_PREFIX))
                    .map(p -> root.relativize(p).toString())
                    .filter(k -> k.startsWith(prefix))
                    .forEach(keys::add);
        } catch (IOException | UncheckedIOException e) {
            throw failure("list", prefix, e);
        }
        keys.sort(null);
        return keys;
    }

    @Override
    public void delete(String key) {
        try {
            Files.deleteIfExists(path(key));
        } catch (IOException e) {
            throw failure("delete", key, e);
        }
    }

    @Override
    public void removeIncomplete() {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                if (p.getFileName().toString().startsWith(TEMP_PREFIX)) {
                    LOG.info("removing {} left by an interrupted write", p);
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException | UncheckedIOException e) {
            throw failure("clean", "", e);
        }
    }

    @Override
    public String describe() {
        return root.toUri().toString();
    }

    @Override
    public void close() {
        // nothing held open between calls
    }

    private BackupException failure(String what, String key, Exception e) {
        return new BackupException(what + " " + key + " in " + root + " failed: " + e.getMessage(), e);
    }
}

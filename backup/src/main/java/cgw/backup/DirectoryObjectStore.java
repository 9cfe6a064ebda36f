package cgw.backup;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
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
 * loses a chunk that no manifest names yet.
 *
 * <p>{@link #putLater} (chunks) batches the file syncs too: it writes the temporary file without
 * a sync, and every {@value #BATCH_BYTES} bytes (and in {@link #sync}) one {@code syncfs(2)} makes
 * the whole batch durable before its files are renamed into place; a second one at {@link #sync}
 * covers the renames. An fsync per chunk file cost more than hashing and compressing it.
 * Safe from any thread.
 */
final class DirectoryObjectStore implements ObjectStore {
    private static final Logger LOG = LoggerFactory.getLogger(DirectoryObjectStore.class);
    static final String TEMP_PREFIX = ".tmp-";

    private final Path root;
    /** Bytes of temporary files {@link #putLater} collects before it syncs and renames them. */
    static final long BATCH_BYTES = 32 << 20;

    /** Directories holding renames not yet synced. */
    private final Set<Path> unsyncedDirectories = ConcurrentHashMap.newKeySet();
    /** Guards {@link #staged} and {@link #stagedBytes}. */
    private final Object stagedLock = new Object();
    private List<Staged> staged = new ArrayList<>();
    private long stagedBytes;
    /** syncfs(2) on the root held open, or null where there is none (then every put fsyncs). */
    private final FileSystemSync fileSystem;
    /** Held while a batch is published, so that {@link #sync} waits for one another thread runs. */
    private final Object publishLock = new Object();

    /** A written, not yet synced, temporary file and the name it gets once synced. */
    private record Staged(Path temp, Path target) {
    }

    DirectoryObjectStore(Path root) {
        this.root = root.toAbsolutePath().normalize();
        try {
            Files.createDirectories(this.root);
            this.fileSystem = FileSystemSync.available() ? FileSystemSync.open(this.root) : null;
        } catch (IOException e) {
            throw new BackupException("cannot open backup directory " + this.root + ": " + e.getMessage(), e);
        }
    }

    /**
     * The file of {@code key}. No part of it below the root may be a symbolic link: a repository
     * holds plain files and directories only, and one that links elsewhere (to the gateway's own
     * files, say) is refused instead of followed, for reads and writes alike.
     */
    private Path path(String key) {
        if (key.isEmpty() || key.startsWith("/") || key.contains("..") || key.contains("\\")) {
            throw new IllegalArgumentException("bad object key: " + key);
        }
        Path target = root.resolve(key);
        for (Path part = target; !part.equals(root); part = part.getParent()) {
            if (Files.isSymbolicLink(part)) {
                throw new CorruptObjectException(root.relativize(part) + " in " + root
                        + " is a symbolic link; a repository never follows one");
            }
        }
        return target;
    }

    @Override
    public void put(String key, byte[] data) {
        Path target = path(key);
        try {
            Path temp = writeTemp(target, data, true);
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            unsyncedDirectories.add(target.getParent());
        } catch (IOException e) {
            throw failure("put", key, e);
        }
    }

    @Override
    public void putLater(String key, byte[] data) {
        if (fileSystem == null) {
            put(key, data);
            return;
        }
        Path target = path(key);
        List<Staged> batch = null;
        try {
            Path temp = writeTemp(target, data, false);
            synchronized (stagedLock) {
                staged.add(new Staged(temp, target));
                stagedBytes += data.length;
                if (stagedBytes >= BATCH_BYTES) {
                    batch = takeStaged();
                }
            }
        } catch (IOException e) {
            throw failure("put", key, e);
        }
        if (batch != null) {
            publish(batch);
        }
    }

    private List<Staged> takeStaged() {
        synchronized (stagedLock) {
            List<Staged> batch = staged;
            staged = new ArrayList<>();
            stagedBytes = 0;
            return batch;
        }
    }

    /**
     * Makes a batch's temporary files durable with one syncfs, then renames them into place. On
     * a failure the files not yet renamed stay temporary, for {@link #removeIncomplete}.
     */
    private void publish(List<Staged> batch) {
        synchronized (publishLock) {
            if (batch.isEmpty()) {
                return;
            }
            Staged current = batch.get(0);
            try {
                fileSystem.sync();
                for (Staged s : batch) {
                    current = s;
                    Files.move(s.temp(), s.target(), StandardCopyOption.ATOMIC_MOVE,
                            StandardCopyOption.REPLACE_EXISTING);
                    unsyncedDirectories.add(s.target().getParent());
                }
            } catch (IOException e) {
                throw failure("put", root.relativize(current.target()).toString(), e);
            }
        }
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) {
        Path target = path(key);
        if (Files.exists(target)) {
            return false;
        }
        try {
            Path temp = writeTemp(target, data, true);
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

    /** Writes {@code data} to a new temporary file beside {@code target}; synced when {@code sync}. */
    private Path writeTemp(Path target, byte[] data, boolean sync) throws IOException {
        Path dir = target.getParent();
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            if (sync) {
                // the new directory's own entry must reach the disk before objects in it count
                // (unsynced temporary files get there with the syncfs that precedes their rename)
                syncDirectory(dir.getParent());
            }
        }
        Path temp = dir.resolve(TEMP_PREFIX + UUID.randomUUID());
        try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer src = ByteBuffer.wrap(data);
            while (src.hasRemaining()) {
                channel.write(src);
            }
            if (sync) {
                channel.force(true);
            }
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
        publish(takeStaged());
        if (fileSystem != null) {
            if (unsyncedDirectories.isEmpty()) {
                return;
            }
            // removed before the sync: a rename after this point is not lost
            List<Path> dirs = new ArrayList<>(unsyncedDirectories);
            unsyncedDirectories.removeAll(dirs);
            try {
                fileSystem.sync();
            } catch (IOException e) {
                unsyncedDirectories.addAll(dirs);
                throw failure("sync", "", e);
            }
            return;
        }
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
    public byte[] get(String key, long maxBytes) {
        ByteBuffer bytes = get(key, maxBytes, ByteBuffer.allocate(0));
        return bytes.remaining() == bytes.capacity() ? bytes.array() : Arrays.copyOf(bytes.array(), bytes.remaining());
    }

    @Override
    public ByteBuffer get(String key, long maxBytes, ByteBuffer reuse) {
        try (FileChannel channel = FileChannel.open(path(key), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long size = channel.size();
            if (size > maxBytes) {
                throw ObjectStore.tooLarge(key, size, maxBytes, describe());
            }
            ByteBuffer bytes = reuse.capacity() >= size
                    ? reuse.clear().limit((int) size)
                    : ByteBuffer.allocate((int) size);
            while (bytes.hasRemaining() && channel.read(bytes) >= 0) {
                // a file that shrank meanwhile ends the loop short, and its check fails later
            }
            return bytes.flip();
        } catch (NoSuchFileException e) {
            throw new ObjectNotFoundException("no object " + key + " in " + describe());
        } catch (IOException e) {
            throw failure("get", key, e);
        }
    }

    @Override
    public boolean exists(String key) {
        return Files.isRegularFile(path(key), LinkOption.NOFOLLOW_LINKS);
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
            files.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
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

    /** Deletes the temporary files of chunks put later but never synced: nothing names them. */
    @Override
    public void close() {
        for (Staged s : takeStaged()) {
            try {
                Files.deleteIfExists(s.temp());
            } catch (IOException e) {
                LOG.warn("cannot delete {}; the next prune removes it: {}", s.temp(), e.toString());
            }
        }
        if (fileSystem != null) {
            fileSystem.close();
        }
    }

    private BackupException failure(String what, String key, Exception e) {
        return new BackupException(what + " " + key + " in " + root + " failed: " + e.getMessage(), e);
    }
}

package cgw.backup;

import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * Where a repository's objects live: a flat namespace of keys ({@code config},
 * {@code chunks/ab/abcd...}, {@code snapshots/...}) holding immutable byte strings. The
 * repository above relies on these properties and nothing else: a {@link #put} is atomic (readers
 * see the whole object or none of it, also after a crash), a {@link #putIfAbsent} never replaces,
 * a {@link #list} shows every object whose put returned, and once {@link #sync} returns every
 * object put before it survives a crash. Implementations are safe from any thread.
 */
public interface ObjectStore extends AutoCloseable {
    /** Largest object the repository writes; a manifest of a 1 PiB volume stays below it. */
    long MAX_OBJECT_BYTES = 2L << 30;

    /** Stores {@code data} under {@code key} atomically, replacing what was there. */
    void put(String key, byte[] data);

    /**
     * Stores {@code data} under {@code key} like {@link #put}, but the object may become visible
     * ({@link #get}, {@link #exists}, {@link #list}) only later, at the latest once the next
     * {@link #sync} returns; a crash before that may lose it, never tear it. For objects nothing
     * refers to until a sync (chunks): a store can then make a batch of them durable at once.
     */
    default void putLater(String key, byte[] data) {
        put(key, data);
    }

    /** Stores {@code data} under {@code key} atomically unless the key exists; true when it stored. */
    boolean putIfAbsent(String key, byte[] data);

    /**
     * Makes every put that returned before this call survive a crash. A put alone may be lost by
     * a crash (never torn); the repository syncs before it writes an object that refers to others.
     */
    void sync();

    /**
     * The object's bytes; {@link ObjectNotFoundException} when there is none, and
     * {@link CorruptObjectException}, before reading it, when it holds more than {@code maxBytes}
     * (a repository is not trusted to keep the gateway's memory).
     */
    byte[] get(String key, long maxBytes);

    /**
     * As {@link #get(String, long)}, into {@code reuse} (a heap buffer) when it is large enough, so
     * that a job reading tens of thousands of objects makes no garbage per object: a buffer over
     * the bytes, on {@code reuse}'s array or a new one.
     */
    default ByteBuffer get(String key, long maxBytes, ByteBuffer reuse) {
        return ByteBuffer.wrap(get(key, maxBytes));
    }

    boolean exists(String key);

    /** Keys starting with {@code prefix}, sorted. */
    List<String> list(String prefix);

    /** Deletes an object; deleting a missing one is not an error. */
    void delete(String key);

    /**
     * Removes what interrupted puts left behind (temporary files, unfinished multipart uploads).
     * Only safe while no put runs: the repository calls it under its exclusive lock.
     */
    void removeIncomplete();

    /** The target this store was opened on, for messages. */
    String describe();

    @Override
    void close();

    /** Why an object is not read: it is larger than its kind of object can be. */
    static CorruptObjectException tooLarge(String key, long size, long maxBytes, String where) {
        return new CorruptObjectException(key + " in " + where + " holds " + size + " bytes, more than the " + maxBytes
                + " such an object can have; not read");
    }

    /** Opens a target anywhere its user can reach (tests, the CLI). */
    static ObjectStore open(String target, S3Settings s3) {
        return open(target, s3, BackupRoots.anywhere());
    }

    /**
     * Opens a target: {@code file:///absolute/dir} (created when missing) or
     * {@code s3://bucket/prefix}, reached with {@code s3} (null: the AWS defaults); a directory
     * only within {@code roots}.
     */
    static ObjectStore open(String target, S3Settings s3, BackupRoots roots) {
        URI uri;
        try {
            uri = URI.create(target);
        } catch (IllegalArgumentException e) {
            throw new InvalidTargetException("target is not a URI: " + target);
        }
        String scheme = uri.getScheme();
        if ("file".equals(scheme)) {
            if (uri.getAuthority() != null || uri.getPath() == null || !uri.getPath().startsWith("/")) {
                throw new InvalidTargetException("a file target is file:///absolute/dir, got " + target);
            }
            return new DirectoryObjectStore(roots.confine(Path.of(uri)));
        }
        if ("s3".equals(scheme)) {
            String bucket = uri.getHost();
            if (bucket == null || bucket.isEmpty()) {
                throw new InvalidTargetException("an S3 target is s3://bucket/prefix, got " + target);
            }
            // where and as whom S3 is reached is the operator's choice (serve options), never a caller's
            if (uri.getUserInfo() != null || uri.getPort() != -1 || uri.getQuery() != null
                    || uri.getFragment() != null) {
                throw new InvalidTargetException("an S3 target is s3://bucket/prefix; the endpoint and credentials"
                        + " come from cgw serve's options, got " + target);
            }
            String prefix = uri.getPath() == null ? "" : uri.getPath().replaceAll("^/+|/+$", "");
            return S3ObjectStore.open(s3 == null ? S3Settings.defaults() : s3, bucket, prefix);
        }
        throw new InvalidTargetException("unknown target scheme, expected file:/// or s3://, got " + target);
    }
}

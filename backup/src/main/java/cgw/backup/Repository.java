package cgw.backup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An opened backup repository: its {@code config}, keys, and the chunk and manifest objects in
 * an {@link ObjectStore} (docs/backup-format.md). Every object is written whole and atomically;
 * chunks are named by their content, so writing one twice is harmless. Immutable after opening
 * and safe from any thread. Owns the object store and closes it.
 */
public final class Repository implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Repository.class);
    static final String CONFIG_KEY = "config";
    /** The most a manifest may expand to when decoded. */
    /**
     * Largest manifest read, stored or decoded: a quarter of the heap at most, so that a hostile
     * or corrupt repository cannot make a job exhaust the gateway's memory.
     */
    private static final long MAX_MANIFEST_BYTES = Math.min(ObjectStore.MAX_OBJECT_BYTES,
            Runtime.getRuntime().maxMemory() / 4);
    /** Largest config or lock object: they hold a few short JSON fields. */
    static final long MAX_SMALL_OBJECT_BYTES = 64 << 10;
    /** Manifests are mostly random ids; a higher level gains nothing. */
    private static final int MANIFEST_ZSTD_LEVEL = 3;

    private final ObjectStore objects;
    private final RepositoryConfig config;
    private final RepositoryKeys keys;
    private final ObjectCodec codec;

    private Repository(ObjectStore objects, RepositoryConfig config, RepositoryKeys keys) {
        this.objects = objects;
        this.config = config;
        this.keys = keys;
        this.codec = new ObjectCodec(keys);
    }

    /** Creates a repository in an empty target; encrypted unless {@code key} is {@link KeySource.None}. */
    public static Repository create(ObjectStore objects, RepositoryOptions options, KeySource key) {
        String id = UUID.randomUUID().toString();
        boolean encrypted = !(key instanceof KeySource.None);
        RepositoryConfig config = new RepositoryConfig(RepositoryConfig.FORMAT, RepositoryConfig.VERSION, id,
                System.currentTimeMillis(), options.chunkSizeBytes(),
                encrypted ? RepositoryConfig.HASH_KEYED : RepositoryConfig.HASH_PLAIN, RepositoryConfig.COMPRESSION,
                encrypted ? RepositoryKeys.newEncryption(key, options.kdf(), id) : null);
        byte[] json;
        try {
            json = ManifestCodec.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(config);
        } catch (IOException e) {
            throw new IllegalStateException("config does not serialise", e);
        }
        if (!objects.putIfAbsent(CONFIG_KEY, json)) {
            throw new BackupException(objects.describe() + " already holds a repository");
        }
        objects.sync();
        LOG.info("created {} repository {} in {}", encrypted ? "an encrypted" : "an unencrypted", id,
                objects.describe());
        return open(objects, key);
    }

    /** Opens an existing repository; {@link WrongKeyException} when {@code key} does not open it. */
    public static Repository open(ObjectStore objects, KeySource key) {
        RepositoryConfig config = readConfig(objects);
        return new Repository(objects, config, RepositoryKeys.open(config, key));
    }

    /** Opens the repository in {@code objects}, creating it first when the target has none. */
    public static Repository openOrCreate(ObjectStore objects, RepositoryOptions options, KeySource key) {
        if (!objects.exists(CONFIG_KEY)) {
            try {
                return create(objects, options, key);
            } catch (BackupException e) {
                if (!objects.exists(CONFIG_KEY)) {
                    throw e;
                }
                LOG.info("{} was created concurrently; opening it", objects.describe());
            }
        }
        return open(objects, key);
    }

    private static RepositoryConfig readConfig(ObjectStore objects) {
        byte[] json;
        try {
            json = objects.get(CONFIG_KEY, MAX_SMALL_OBJECT_BYTES);
        } catch (ObjectNotFoundException e) {
            throw new RepositoryFormatException(objects.describe() + " holds no backup repository (no config)");
        }
        RepositoryConfig config;
        try {
            config = ManifestCodec.JSON.readValue(json, RepositoryConfig.class);
        } catch (IOException e) {
            throw new RepositoryFormatException(objects.describe() + ": unreadable config: " + e.getMessage());
        }
        if (!RepositoryConfig.FORMAT.equals(config.format()) || config.version() != RepositoryConfig.VERSION) {
            throw new RepositoryFormatException(objects.describe() + " is " + config.format() + " version "
                    + config.version() + "; this gateway reads " + RepositoryConfig.FORMAT + " version "
                    + RepositoryConfig.VERSION);
        }
        RepositoryOptions.checkChunkSize(config.chunkSizeBytes());
        String hash = config.encryption() == null ? RepositoryConfig.HASH_PLAIN : RepositoryConfig.HASH_KEYED;
        if (!hash.equals(config.hash()) || !RepositoryConfig.COMPRESSION.equals(config.compression())) {
            throw new RepositoryFormatException(objects.describe() + ": unsupported hash " + config.hash()
                    + " or compression " + config.compression());
        }
        return config;
    }

    public RepositoryConfig config() {
        return config;
    }

    public int chunkSizeBytes() {
        return config.chunkSizeBytes();
    }

    public boolean encrypted() {
        return keys.encrypted();
    }

    public String describe() {
        return objects.describe();
    }

    ObjectStore objects() {
        return objects;
    }

    ChunkId chunkId(byte[] src, int offset, int length) {
        return keys.chunkId(src, offset, length);
    }

    boolean hasChunk(ChunkId id) {
        return objects.exists(id.objectKey());
    }

    /**
     * Stores a chunk (compressed, sealed) and returns the bytes written. It may become visible only
     * at the next {@link #writeManifest}, which syncs first: callers remember the chunks they put.
     */
    long putChunk(ChunkId id, byte[] src, int offset, int length, int zstdLevel) {
        byte[] stored = codec.encode(id.objectKey(), src, offset, length, zstdLevel);
        objects.putLater(id.objectKey(), stored);
        return stored.length;
    }

    /**
     * A chunk's plaintext, checked against its id: {@link ObjectNotFoundException} when it is
     * missing, {@link CorruptObjectException} when it does not decode or hash to its id.
     */
    ByteBuffer readChunk(ChunkId id) {
        return readChunk(id, ByteBuffer.allocate(0));
    }

    /**
     * As {@link #readChunk(ChunkId)}, reading the object into {@code reuse} (a heap buffer of
     * {@link #maxStoredChunkBytes()}) where the store can: the plaintext may then be a view of
     * it, valid until its next use.
     */
    ByteBuffer readChunk(ChunkId id, ByteBuffer reuse) {
        String key = id.objectKey();
        ByteBuffer plain = codec.decodeView(key,
                objects.get(key, maxStoredChunkBytes(), reuse), config.chunkSizeBytes());
        ChunkId actual = keys.chunkId(plain.array(), plain.arrayOffset() + plain.position(), plain.remaining());
        if (!actual.equals(id)) {
            throw new CorruptObjectException(key + ": content hashes to " + actual.hex());
        }
        return plain;
    }

    /** The most bytes a chunk's object may hold. */
    int maxStoredChunkBytes() {
        return (int) ObjectCodec.maxStoredBytes(config.chunkSizeBytes());
    }

    /** Chunk ids of every chunk object in the repository. */
    List<ChunkId> chunkIds() {
        List<ChunkId> ids = new ArrayList<>();
        for (String key : objects.list(ChunkId.PREFIX)) {
            ChunkId id = ChunkId.fromObjectKey(key);
            if (id == null) {
                LOG.warn("ignoring {}: not a chunk's name", key);
            } else {
                ids.add(id);
            }
        }
        return ids;
    }

    void deleteChunk(ChunkId id) {
        objects.delete(id.objectKey());
    }

    /** Makes every chunk put so far visible and durable. */
    void syncChunks() {
        objects.sync();
    }

    /**
     * Writes a manifest atomically, after making every chunk put so far durable: a manifest never
     * survives a crash that its chunks did not. Returns the bytes written.
     */
    long writeManifest(Manifest manifest) {
        byte[] plain = ManifestCodec.encode(manifest);
        byte[] stored = codec.encode(manifest.objectKey(), plain, 0, plain.length, MANIFEST_ZSTD_LEVEL);
        objects.sync();
        objects.put(manifest.objectKey(), stored);
        objects.sync();
        return stored.length;
    }

    public boolean hasSnapshot(long snapshotId) {
        return objects.exists(Manifest.objectKey(snapshotId));
    }

    /** The manifest of a snapshot; {@link SnapshotNotFoundException} when the repository has none. */
    public Manifest readManifest(long snapshotId) {
        String key = Manifest.objectKey(snapshotId);
        byte[] stored;
        try {
            stored = objects.get(key, ObjectCodec.maxStoredBytes(MAX_MANIFEST_BYTES));
        } catch (ObjectNotFoundException e) {
            throw new SnapshotNotFoundException("snapshot " + snapshotId + " is not in " + objects.describe());
        }
        Manifest manifest = ManifestCodec.decode(key, codec.decode(key, stored, MAX_MANIFEST_BYTES));
        if (manifest.snapshotId() != snapshotId) {
            throw new CorruptObjectException(key + ": holds snapshot " + manifest.snapshotId());
        }
        return manifest;
    }

    /** Ids of the snapshots with a manifest, ascending. */
    public List<Long> snapshotIds() {
        List<Long> ids = new ArrayList<>();
        for (String key : objects.list(Manifest.PREFIX)) {
            long id = Manifest.snapshotIdOf(key);
            if (id < 0) {
                LOG.warn("ignoring {}: not a manifest's name", key);
            } else {
                ids.add(id);
            }
        }
        ids.sort(null);
        return ids;
    }

    void deleteManifest(long snapshotId) {
        objects.delete(Manifest.objectKey(snapshotId));
    }

    /** Takes a shared (export, restore, verify) or exclusive (prune) lock; {@link RepositoryLockedException} on conflict. */
    public RepositoryLock lock(boolean exclusive, String purpose) {
        return RepositoryLock.acquire(objects, exclusive, purpose);
    }

    @Override
    public void close() {
        codec.close();
        objects.close();
    }
}

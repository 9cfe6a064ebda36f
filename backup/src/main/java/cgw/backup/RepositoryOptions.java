package cgw.backup;

/**
 * Choices fixed when a repository is created.
 *
 * @param chunkSizeBytes a power of two from 4 KiB to 4 MiB; a multiple of the store's block size
 * @param kdf            Argon2id cost, when a passphrase encrypts the repository
 */
public record RepositoryOptions(int chunkSizeBytes, KdfParams kdf) {
    public static final int DEFAULT_CHUNK_SIZE_BYTES = 64 << 10;
    public static final int MIN_CHUNK_SIZE_BYTES = 4 << 10;
    public static final int MAX_CHUNK_SIZE_BYTES = 4 << 20;

    public RepositoryOptions {
        checkChunkSize(chunkSizeBytes);
    }

    static void checkChunkSize(int chunkSizeBytes) {
        if (chunkSizeBytes < MIN_CHUNK_SIZE_BYTES || chunkSizeBytes > MAX_CHUNK_SIZE_BYTES
                || Integer.bitCount(chunkSizeBytes) != 1) {
            throw new RepositoryFormatException("chunk size must be a power of two in [" + MIN_CHUNK_SIZE_BYTES + ", "
                    + MAX_CHUNK_SIZE_BYTES + "], got " + chunkSizeBytes);
        }
    }

    public static RepositoryOptions defaults() {
        return new RepositoryOptions(DEFAULT_CHUNK_SIZE_BYTES, KdfParams.defaults());
    }

    public RepositoryOptions withKdf(KdfParams value) {
        return new RepositoryOptions(chunkSizeBytes, value);
    }
}

package cgw.backup;

/**
 * The {@code config} object of a repository, stored as JSON in the clear (it holds what is
 * needed to derive the key; the master key in it is wrapped). See docs/backup-format.md.
 *
 * @param format         always {@value #FORMAT}
 * @param version        format version, {@value #VERSION}
 * @param id             a random UUID, bound into the wrapped key's AAD
 * @param chunkSizeBytes size of a chunk (the last chunk of a volume may be shorter)
 * @param hash           {@code sha256}, or {@code hmac-sha256} in an encrypted repository
 * @param compression    {@code zstd}
 * @param encryption     null when the repository is not encrypted
 */
public record RepositoryConfig(String format, int version, String id, long createdAtMillis, int chunkSizeBytes,
        String hash, String compression, Encryption encryption) {
    public static final String FORMAT = "cgw-backup";
    public static final int VERSION = 1;
    public static final String HASH_PLAIN = "sha256";
    public static final String HASH_KEYED = "hmac-sha256";
    public static final String COMPRESSION = "zstd";

    /**
     * How the master key is wrapped.
     *
     * @param cipher      {@code aes-256-gcm}, for the wrapped key and every object
     * @param kdf         {@code argon2id} (passphrase) or {@code hkdf-sha256} (key file)
     * @param salt        base64, 16 random bytes
     * @param memoryKiB   Argon2 memory (argon2id only)
     * @param iterations  Argon2 passes (argon2id only)
     * @param parallelism Argon2 lanes (argon2id only)
     * @param wrappedKey  base64: 12-byte nonce, then the 32-byte master key encrypted with the
     *                    key-encryption key, then the 16-byte GCM tag
     */
    public record Encryption(String cipher, String kdf, String salt, int memoryKiB, int iterations, int parallelism,
            String wrappedKey) {
    }
}

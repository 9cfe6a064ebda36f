package cgw.backup;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.generators.HKDFBytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;
import org.bouncycastle.crypto.params.HKDFParameters;

/**
 * The keys of one opened repository and the primitives that use them: chunk ids (SHA-256, or
 * HMAC-SHA256 under the id key) and AES-256-GCM sealing (under the data key). Both keys come
 * from the master key by HKDF-SHA256; the master key is random and stored wrapped by a
 * key-encryption key that the passphrase (Argon2id) or key file (HKDF) yields. Immutable and safe
 * from any thread: the JCE objects are per thread.
 */
final class RepositoryKeys {
    static final String CIPHER = "aes-256-gcm";
    static final String KDF_PASSPHRASE = "argon2id";
    static final String KDF_KEY_FILE = "hkdf-sha256";
    static final int KEY_BYTES = 32;
    static final int NONCE_BYTES = 12;
    static final int TAG_BYTES = 16;
    static final int MIN_KEY_FILE_BYTES = 32;
    private static final int SALT_BYTES = 16;
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Null when the repository is not encrypted. */
    private final SecretKey dataKey;
    private final ThreadLocal<Mac> idMac;
    private final ThreadLocal<MessageDigest> sha256 = ThreadLocal.withInitial(() -> newInstance("SHA-256"));
    private final ThreadLocal<Cipher> cipher = ThreadLocal.withInitial(() -> {
        try {
            return Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no AES-GCM", e);
        }
    });

    private RepositoryKeys(byte[] masterKey) {
        if (masterKey == null) {
            dataKey = null;
            idMac = null;
            return;
        }
        dataKey = new SecretKeySpec(hkdf(masterKey, null, "cgw-backup data key"), "AES");
        SecretKey idKey = new SecretKeySpec(hkdf(masterKey, null, "cgw-backup chunk id key"), "HmacSHA256");
        idMac = ThreadLocal.withInitial(() -> {
            try {
                Mac mac = Mac.getInstance("HmacSHA256");
                mac.init(idKey);
                return mac;
            } catch (GeneralSecurityException e) {
                throw new IllegalStateException("the JDK has no HmacSHA256", e);
            }
        });
    }

    static RepositoryKeys plain() {
        return new RepositoryKeys(null);
    }

    boolean encrypted() {
        return dataKey != null;
    }

    /** A new random master key, wrapped for {@code source}; the repository config records it. */
    static RepositoryConfig.Encryption newEncryption(KeySource source, KdfParams kdf, String repositoryId) {
        byte[] salt = random(SALT_BYTES);
        RepositoryConfig.Encryption unwrapped;
        if (source instanceof KeySource.Passphrase) {
            unwrapped = new RepositoryConfig.Encryption(CIPHER, KDF_PASSPHRASE, b64(salt),
                    kdf.memoryKiB(), kdf.iterations(), kdf.parallelism(), null);
        } else if (source instanceof KeySource.KeyFile) {
            unwrapped = new RepositoryConfig.Encryption(CIPHER, KDF_KEY_FILE, b64(salt), 0, 0, 0, null);
        } else {
            throw new IllegalArgumentException("no key to encrypt with");
        }
        byte[] kek = keyEncryptionKey(unwrapped, source);
        byte[] master = random(KEY_BYTES);
        byte[] wrapped = seal(new SecretKeySpec(kek, "AES"), wrapAad(repositoryId), master, 0, master.length,
                newCipher());
        return new RepositoryConfig.Encryption(unwrapped.cipher(), unwrapped.kdf(), unwrapped.salt(),
                unwrapped.memoryKiB(), unwrapped.iterations(), unwrapped.parallelism(), b64(wrapped));
    }

    /** Opens a repository's keys; {@link WrongKeyException} when {@code source} does not fit. */
    static RepositoryKeys open(RepositoryConfig config, KeySource source) {
        RepositoryConfig.Encryption encryption = config.encryption();
        if (encryption == null) {
            if (!(source instanceof KeySource.None)) {
                throw new WrongKeyException("the repository is not encrypted, but a key was given");
            }
            return plain();
        }
        if (!CIPHER.equals(encryption.cipher())) {
            throw new RepositoryFormatException("unknown cipher " + encryption.cipher());
        }
        if (source instanceof KeySource.None) {
            throw new WrongKeyException("the repository is encrypted: a passphrase or key file is needed");
        }
        String expected = source instanceof KeySource.Passphrase ? KDF_PASSPHRASE : KDF_KEY_FILE;
        if (!expected.equals(encryption.kdf())) {
            throw new WrongKeyException("the repository is encrypted with a "
                    + (KDF_PASSPHRASE.equals(encryption.kdf()) ? "passphrase" : "key file") + ", not a "
                    + (KDF_PASSPHRASE.equals(expected) ? "passphrase" : "key file"));
        }
        byte[] kek = keyEncryptionKey(encryption, source);
        byte[] wrapped = Base64.getDecoder().decode(encryption.wrappedKey());
        try {
            return new RepositoryKeys(open(new SecretKeySpec(kek, "AES"), wrapAad(config.id()), wrapped, newCipher()));
        } catch (AEADBadTagException e) {
            throw new WrongKeyException("wrong " + (source instanceof KeySource.Passphrase ? "passphrase" : "key file")
                    + ": it does not unwrap the repository's master key");
        } catch (GeneralSecurityException e) {
            throw new RepositoryFormatException("the wrapped master key is malformed: " + e.getMessage());
        }
    }

    private static byte[] keyEncryptionKey(RepositoryConfig.Encryption encryption, KeySource source) {
        byte[] salt = Base64.getDecoder().decode(encryption.salt());
        byte[] kek = new byte[KEY_BYTES];
        if (source instanceof KeySource.Passphrase p) {
            KdfParams params = KdfParams.ofRepository(encryption.memoryKiB(), encryption.iterations(),
                    encryption.parallelism(), Runtime.getRuntime().maxMemory());
            Argon2BytesGenerator argon2 = new Argon2BytesGenerator();
            argon2.init(new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                    .withVersion(Argon2Parameters.ARGON2_VERSION_13)
                    .withSalt(salt)
                    .withMemoryAsKB(params.memoryKiB())
                    .withIterations(params.iterations())
                    .withParallelism(params.parallelism())
                    .build());
            argon2.generateBytes(p.passphrase().toCharArray(), kek);
            return kek;
        }
        KeySource.KeyFile f = (KeySource.KeyFile) source;
        byte[] material;
        try {
            material = Files.readAllBytes(f.path());
        } catch (IOException e) {
            throw new WrongKeyException("cannot read key file " + f.path() + ": " + e.getMessage());
        }
        if (material.length < MIN_KEY_FILE_BYTES) {
            throw new WrongKeyException("key file " + f.path() + " holds " + material.length
                    + " bytes; it needs at least " + MIN_KEY_FILE_BYTES + " random bytes");
        }
        return hkdf(material, salt, "cgw-backup key-encryption key");
    }

    private static byte[] wrapAad(String repositoryId) {
        return ("cgw-backup master key " + repositoryId).getBytes(StandardCharsets.UTF_8);
    }

    /** The id of a chunk's plaintext. */
    ChunkId chunkId(byte[] src, int offset, int length) {
        byte[] out;
        if (idMac != null) {
            Mac mac = idMac.get();
            mac.update(src, offset, length);
            out = mac.doFinal();
        } else {
            MessageDigest md = sha256.get();
            md.update(src, offset, length);
            out = md.digest();
        }
        return ChunkId.wrap(out);
    }

    /** Nonce, ciphertext and tag of {@code src} under the data key, bound to {@code aad}. */
    byte[] seal(byte[] aad, byte[] src, int offset, int length) {
        return seal(dataKey, aad, src, offset, length, cipher.get());
    }

    /** The plaintext of {@link #seal}'s output; {@link CorruptObjectException} when it fails to authenticate. */
    byte[] open(byte[] aad, byte[] sealed, String what) {
        try {
            return open(dataKey, aad, sealed, cipher.get());
        } catch (GeneralSecurityException e) {
            throw new CorruptObjectException(what + " fails authentication (corrupt, or written under another key)", e);
        }
    }

    private static byte[] seal(SecretKey key, byte[] aad, byte[] src, int offset, int length, Cipher cipher) {
        byte[] out = new byte[NONCE_BYTES + length + TAG_BYTES];
        byte[] nonce = random(NONCE_BYTES);
        System.arraycopy(nonce, 0, out, 0, NONCE_BYTES);
        try {
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BYTES * 8, nonce));
            cipher.updateAAD(aad);
            cipher.doFinal(src, offset, length, out, NONCE_BYTES);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM encryption failed", e);
        }
        return out;
    }

    private static byte[] open(SecretKey key, byte[] aad, byte[] sealed, Cipher cipher)
            throws GeneralSecurityException {
        if (sealed.length < NONCE_BYTES + TAG_BYTES) {
            throw new AEADBadTagException("sealed data too short: " + sealed.length + " bytes");
        }
        cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BYTES * 8, sealed, 0, NONCE_BYTES));
        cipher.updateAAD(aad);
        return cipher.doFinal(sealed, NONCE_BYTES, sealed.length - NONCE_BYTES);
    }

    private static Cipher newCipher() {
        try {
            return Cipher.getInstance("AES/GCM/NoPadding");
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no AES-GCM", e);
        }
    }

    private static byte[] hkdf(byte[] ikm, byte[] salt, String info) {
        HKDFBytesGenerator hkdf = new HKDFBytesGenerator(new SHA256Digest());
        hkdf.init(new HKDFParameters(ikm, salt, info.getBytes(StandardCharsets.UTF_8)));
        byte[] out = new byte[KEY_BYTES];
        hkdf.generateBytes(out, 0, out.length);
        return out;
    }

    private static MessageDigest newInstance(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no " + algorithm, e);
        }
    }

    static byte[] random(int length) {
        byte[] out = new byte[length];
        RANDOM.nextBytes(out);
        return out;
    }

    private static String b64(byte[] bytes) {
        return Base64.getEncoder().encodeToString(bytes);
    }
}

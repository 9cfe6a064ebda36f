package cgw.backup;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * Coverage-guided fuzzing of what a repository hands the gateway: manifests (the harness appends
 * the right SHA-256, so the fuzzer gets past the checksum to the parser) and stored objects of an
 * unencrypted repository (header, zstd frame, size bounds). Refusing with
 * {@link CorruptObjectException} is the expected answer; anything else escaping, an
 * OutOfMemoryError included, is a finding.
 */
class BackupDecodersFuzzTest {
    private static final ObjectCodec OBJECTS = new ObjectCodec(RepositoryKeys.plain());

    @FuzzTest(maxDuration = "2h", maxExecutions = 1_000_000)
    void manifest(byte[] body) throws NoSuchAlgorithmException {
        byte[] plain = Arrays.copyOf(body, body.length + 32);
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(body);
        System.arraycopy(digest, 0, plain, body.length, digest.length);
        try {
            ManifestCodec.decode("snapshots/1", plain);
        } catch (CorruptObjectException refused) {
            // a malformed manifest, told as such
        }
    }

    @FuzzTest(maxDuration = "2h", maxExecutions = 1_000_000)
    void object(byte[] stored) {
        try {
            OBJECTS.decode("chunks/ab/x", stored, 1 << 20);
        } catch (CorruptObjectException refused) {
            // a malformed object, told as such
        }
    }
}

package cgw.backup;

/**
 * Argon2id cost of turning a passphrase into the key-encryption key. The default is the second
 * recommendation of RFC 9106 (64 MiB, 3 passes, one lane): slow on purpose, against guessing,
 * and paid once per repository opening.
 */
public record KdfParams(int memoryKiB, int iterations, int parallelism) {
    public KdfParams {
        if (memoryKiB < 8 * parallelism || memoryKiB > (4 << 20) || iterations < 1 || iterations > 100
                || parallelism < 1 || parallelism > 16) {
            throw new IllegalArgumentException("Argon2 parameters out of range: memoryKiB=" + memoryKiB
                    + " iterations=" + iterations + " parallelism=" + parallelism);
        }
    }

    public static KdfParams defaults() {
        return new KdfParams(64 << 10, 3, 1);
    }
}

package cgw.backup;

/**
 * Argon2id cost of turning a passphrase into the key-encryption key. The default is the second
 * recommendation of RFC 9106 (64 MiB, 3 passes, one lane): slow on purpose, against guessing,
 * and paid once per repository opening.
 */
public record KdfParams(int memoryKiB, int iterations, int parallelism) {
    /** RFC 9106's first recommendation (2 GiB, one pass) is the most memory a repository may ask. */
    static final int MAX_MEMORY_KIB = 2 << 20;
    /**
     * Memory times passes: what opening a repository may cost, a few seconds of a core at most
     * (the default costs 192 MiB-passes), so a repository cannot tie up a gateway for hours.
     */
    static final long MAX_COST_KIB_PASSES = 4L << 20;

    public KdfParams {
        if (memoryKiB < 8 * parallelism || memoryKiB > MAX_MEMORY_KIB || iterations < 1
                || (long) memoryKiB * iterations > MAX_COST_KIB_PASSES || parallelism < 1 || parallelism > 16) {
            throw new IllegalArgumentException("Argon2 parameters out of range: memoryKiB=" + memoryKiB
                    + " iterations=" + iterations + " parallelism=" + parallelism + " (memory at most "
                    + MAX_MEMORY_KIB + " KiB, memory x iterations at most " + MAX_COST_KIB_PASSES
                    + ", 8 KiB of memory per lane, 1 to 16 lanes)");
        }
    }

    /**
     * The parameters a repository's config names, refused before any work when they are out of
     * range or need more memory than half of this JVM's heap (Argon2 holds its memory there).
     */
    static KdfParams ofRepository(int memoryKiB, int iterations, int parallelism, long maxHeapBytes) {
        KdfParams params;
        try {
            params = new KdfParams(memoryKiB, iterations, parallelism);
        } catch (IllegalArgumentException e) {
            throw new RepositoryFormatException("the repository's key derivation: " + e.getMessage());
        }
        if (memoryKiB * 1024L > maxHeapBytes / 2) {
            throw new RepositoryFormatException("the repository's key derivation needs " + (memoryKiB >> 10)
                    + " MiB of memory, more than half of this gateway's heap (" + (maxHeapBytes >> 20)
                    + " MiB); open it from a gateway with a larger -Xmx");
        }
        return params;
    }

    public static KdfParams defaults() {
        return new KdfParams(64 << 10, 3, 1);
    }
}

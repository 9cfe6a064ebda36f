package cgw.bench;

import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * One benchmark thread's 4 KiB random I/O: uniform aligned offsets from a seed fixed by the
 * thread's index, so every run and its peer visit the same offsets.
 *
 * <p>Threads: owned by one JMH thread.
 */
@State(Scope.Thread)
public class RandomIo extends ThreadIo {
    static final int IO_SIZE_BYTES = 4096;

    private SplittableRandom random;

    @Setup(Level.Trial)
    public void seed(ThreadParams threads) {
        allocate(IO_SIZE_BYTES);
        random = new SplittableRandom(0xB10C_0000L + threads.getThreadIndex());
    }

    /** A uniformly random offset of a 4 KiB block in {@code [0, sizeBytes)}. */
    long nextOffset(long sizeBytes) {
        return random.nextLong(sizeBytes / IO_SIZE_BYTES) * IO_SIZE_BYTES;
    }
}

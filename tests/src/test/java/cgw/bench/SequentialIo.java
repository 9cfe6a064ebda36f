package cgw.bench;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * One benchmark thread's sequential I/O of {@code ioSizeBytes}: each of the N threads streams
 * through its own 1/N of the device and wraps around at the end of it, as N guests copying
 * disjoint files would.
 *
 * <p>Threads: owned by one JMH thread.
 */
@State(Scope.Thread)
public class SequentialIo extends ThreadIo {
    @Param({"65536", "1048576"})
    public int ioSizeBytes;

    private int threadIndex;
    private int threadCount;
    private long position;

    @Setup(Level.Trial)
    public void place(ThreadParams threads) {
        allocate(ioSizeBytes);
        threadIndex = threads.getThreadIndex();
        threadCount = threads.getThreadCount();
    }

    /** The next offset of this thread's stream over a device of {@code sizeBytes}. */
    long nextOffset(long sizeBytes) {
        long region = sizeBytes / threadCount / ioSizeBytes * ioSizeBytes;
        if (region == 0) {
            throw new IllegalStateException(sizeBytes + " bytes are too few for " + threadCount
                    + " threads of " + ioSizeBytes + "-byte I/O");
        }
        if (position >= region) {
            position = 0;
        }
        long offset = threadIndex * region + position;
        position += ioSizeBytes;
        return offset;
    }
}

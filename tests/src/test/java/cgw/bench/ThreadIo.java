package cgw.bench;

import java.nio.ByteBuffer;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What every benchmark thread's I/O state has: the pattern to write, a direct buffer to read
 * into (NBD hands the store direct buffers), and a check of the last read against the pattern
 * after each iteration, so a store that returns the wrong bytes fails the run instead of winning
 * it. Subclasses choose the offsets.
 *
 * <p>Threads: owned by one JMH thread.
 */
@State(Scope.Thread)
public abstract class ThreadIo {
    DataPattern pattern;
    ByteBuffer buffer;
    private long lastReadOffset = -1;

    void allocate(int ioSizeBytes) {
        pattern = new DataPattern(ioSizeBytes);
        buffer = ByteBuffer.allocateDirect(ioSizeBytes);
    }

    /** The buffer to read {@code offset} into, ready for the read. */
    ByteBuffer readBuffer(long offset) {
        lastReadOffset = offset;
        buffer.clear();
        return buffer;
    }

    @TearDown(Level.Iteration)
    public void checkLastRead() {
        if (lastReadOffset >= 0) {
            PatternFill.check(buffer, lastReadOffset, buffer.capacity() + "-byte read");
        }
    }
}

package cgw.store;

import cgw.host.Libc;
import com.kenai.jffi.MemoryIO;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads that never wait for the disk: {@code preadv2(2)} with {@code RWF_NOWAIT}, which copies
 * the bytes when the page cache holds all of them and otherwise returns at once with
 * {@code EAGAIN}. They let a caller that must not block (an NBD event loop) serve a read itself
 * when it can, and hand it to a thread that may wait when it cannot. Each segment of the value
 * log keeps a descriptor of its file open for them ({@link #open}); reached through jnr-ffi.
 *
 * <p>Where libc or the kernel lacks them (not Linux, Linux before 4.14, a file system that
 * refuses the flag) they switch themselves off and every read is left to the waiting path.
 *
 * <p>Threads: any; each thread has its own {@code iovec}.
 */
final class NoWaitReads {
    private static final Logger log = LoggerFactory.getLogger(NoWaitReads.class);
    private static final int O_RDONLY = 0;
    private static final int O_CLOEXEC = 02000000;
    private static final int RWF_NOWAIT = 0x8;
    private static final int EAGAIN = 11;
    private static final int EINTR = 4;
    private static final int EINVAL = 22;
    private static final int EOPNOTSUPP = 95;
    private static final int IOVEC_BYTES = 16;

    /** libc, or null where it cannot be loaded: every read then takes the waiting path. */
    private static final @Nullable Libc LIBC = load();
    private static final ThreadLocal<Pointer> IOVECS = ThreadLocal.withInitial(
            () -> Memory.allocateDirect(Runtime.getRuntime(loaded()), IOVEC_BYTES));
    private static volatile boolean available = LIBC != null;

    private NoWaitReads() {
    }

    private static @Nullable Libc load() {
        try {
            return Libc.load();
        } catch (RuntimeException | LinkageError e) {
            log.info("preadv2(2) unavailable; every read of the value log may wait for the disk", e);
            return null;
        }
    }

    /** libc, for a path that {@link #available} let through. */
    private static Libc loaded() {
        Libc libc = LIBC;
        if (libc == null) {
            throw new IllegalStateException("libc is not loaded");
        }
        return libc;
    }

    /** A read-only descriptor of {@code file} for {@link #read}, or -1 when there is none. */
    static int open(Path file) {
        if (!available) {
            return -1;
        }
        int fd = loaded().open(file.toString(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            int errno = Libc.errno();
            log.warn("cannot open {} for page-cache reads ({}); its reads may wait for the disk", file,
                    loaded().strerror(errno));
        }
        return fd;
    }

    static void close(int fd) {
        if (fd >= 0 && loaded().close(fd) != 0) {
            int errno = Libc.errno();
            log.warn("closing a value log descriptor failed: {}", loaded().strerror(errno));
        }
    }

    /**
     * Fills {@code dst} (position to limit, a direct buffer) from {@code fd} at {@code position}
     * if the page cache holds every byte now; false, with {@code dst} unchanged in position and
     * its bytes undefined, when it does not (or the call failed: the caller then reads the way
     * that reports errors).
     */
    static boolean read(int fd, long position, ByteBuffer dst) {
        if (fd < 0 || !available) {
            return false;
        }
        int length = dst.remaining();
        Pointer iov = IOVECS.get();
        iov.putAddress(0, MemoryIO.getInstance().getDirectBufferAddress(dst) + dst.position());
        iov.putLong(8, length);
        long n = loaded().preadv2(fd, iov, 1, position, RWF_NOWAIT);
        if (n == length) {
            dst.position(dst.limit());
            return true;
        }
        if (n < 0) {
            int errno = Libc.errno();
            if (errno == EOPNOTSUPP || errno == EINVAL) {
                // this kernel or file system does not know the flag: stop asking
                available = false;
                log.info("preadv2(RWF_NOWAIT) failed ({}); reads of the value log go to the store threads",
                        loaded().strerror(errno));
            }
        }
        return false; // not all cached, or a short read past the end: the waiting read reports it
    }
}

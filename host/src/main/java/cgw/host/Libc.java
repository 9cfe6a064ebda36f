package cgw.host;

import jnr.ffi.LastError;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;

/**
 * The gateway's one binding of libc, through jnr-ffi: every function any module calls, each
 * named and typed as in C. {@link #load} makes it once per process. All of them must resolve for
 * the load to succeed (preadv2 needs glibc 2.26), so a caller that gets a {@link LinkageError}
 * or a {@link RuntimeException} from it keeps a slower path that needs none of them.
 *
 * <p>Threads: any; errno ({@link #errno}) is per thread.
 */
public interface Libc {
    int open(String path, int flags);

    int close(int fd);

    /** The store's reads that must not wait for the disk ({@code RWF_NOWAIT}). */
    long preadv2(int fd, Pointer iov, int iovcnt, long offset, int flags);

    /** Backups to a directory: one flush for a whole file system. */
    int syncfs(int fd);

    int fdatasync(int fd);

    /** The barrier's coordinator asks for a real-time policy. */
    int sched_setscheduler(int pid, int policy, @In int[] param);

    int getpid();

    /** {@code cgw serve} creates every file owner-only. */
    int umask(int mask);

    String strerror(int errno);

    // what the page cache holds, and dropping a file from it: for tests of reads that must not wait

    int posix_fadvise(int fd, long offset, long length, int advice);

    Pointer mmap(Pointer address, long length, int protection, int flags, int fd, long offset);

    int mincore(Pointer address, long length, byte[] resident);

    int munmap(Pointer address, long length);

    /**
     * libc, loaded on the first call and the same object after. Throws what jnr-ffi throws when
     * it cannot ({@link LinkageError} or a {@link RuntimeException}); a later call tries again.
     */
    static Libc load() {
        return LibcLoader.load();
    }

    /** The errno that the calling thread's last call through {@link #load}'s binding left. */
    static int errno() {
        return LastError.getLastError(Runtime.getRuntime(load()));
    }

    /** {@code errno} as "message (errno N)", for an exception or a log line. */
    static String describe(int errno) {
        return load().strerror(errno) + " (errno " + errno + ")";
    }
}

package cgw.host;

import java.util.concurrent.atomic.AtomicReference;
import jnr.ffi.LibraryLoader;

/**
 * Loads {@link Libc} once, on a thread no interrupt reaches. jnr-ffi's first load in a process
 * unpacks its native stub with a {@code FileChannel}, which an interrupt closes; a static
 * initialiser then keeps that failure for the life of the process, so one thread interrupted at
 * that moment (a pool shut down with {@code shutdownNow}) would take jnr-ffi away from every
 * module. The caller waits for the loading thread without giving up on an interrupt, and keeps its
 * interrupt status. Loads are serialised too: concurrent first loads of jnr-ffi can fail.
 *
 * <p>Threads: any. Never loads from the calling thread.
 */
final class LibcLoader {
    /** Written once a load succeeds, under the class's monitor, which serialises the loads. */
    private static volatile Libc loaded;

    private LibcLoader() {
    }

    static Libc load() {
        Libc libc = loaded;
        if (libc != null) {
            return libc;
        }
        synchronized (LibcLoader.class) {
            if (loaded == null) {
                loaded = loadOnItsOwnThread();
            }
            return loaded;
        }
    }

    private static Libc loadOnItsOwnThread() {
        AtomicReference<Libc> libc = new AtomicReference<>();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread loader = NamedThreads.thread("cgw-native-load", true, () -> {
            try {
                libc.set(LibraryLoader.create(Libc.class).failImmediately().load("c"));
            } catch (RuntimeException | LinkageError e) {
                failed.set(e);
            }
        });
        loader.start();
        boolean interrupted = false;
        while (true) {
            try {
                loader.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable failure = failed.get();
        if (failure instanceof LinkageError linkage) {
            throw linkage;
        }
        if (failure != null) {
            throw (RuntimeException) failure;
        }
        return libc.get();
    }
}

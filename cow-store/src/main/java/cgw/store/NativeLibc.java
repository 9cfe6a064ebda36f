package cgw.store;

import java.util.concurrent.atomic.AtomicReference;
import jnr.ffi.LibraryLoader;

/**
 * Loads an interface onto libc through jnr-ffi, for every module of the gateway. jnr-ffi's first
 * load in a process unpacks its native stub into the temporary directory with a
 * {@code FileChannel}, which an interrupt closes; the failure is then kept by a static
 * initialiser for the life of the process, so one thread interrupted at that moment (an
 * executor shut down with {@code shutdownNow}, as the barrier's coordinator was in tests) took
 * jnr-ffi away from everyone else. The load therefore runs on a thread of its own that nothing
 * interrupts, and the caller waits for it without giving up on an interrupt (its interrupt status
 * is kept for it). Loads are serialised too: concurrent first loads of jnr-ffi can fail.
 *
 * <p>Threads: any.
 */
public final class NativeLibc {
    private NativeLibc() {
    }

    /**
     * libc as {@code type}. Throws what jnr-ffi throws when it cannot ({@link LinkageError} or a
     * {@link RuntimeException}); callers fall back to a slower path.
     */
    public static <T> T load(Class<T> type) {
        AtomicReference<T> loaded = new AtomicReference<>();
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread loader = new Thread(() -> {
            try {
                synchronized (LibraryLoader.class) {
                    loaded.set(LibraryLoader.create(type).failImmediately().load("c"));
                }
            } catch (RuntimeException | LinkageError e) {
                failed.set(e);
            }
        }, "cgw-native-load");
        loader.setDaemon(true);
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
        return loaded.get();
    }
}

package cgw.host;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's threads, made in one place: each is named for its role (a thread dump and every
 * log line say whose it is), says whether it may keep the JVM alive, and logs an exception that
 * ends it through SLF4J instead of printing it to stderr, where the gateway's log would miss it.
 *
 * <p>Threads: any; a factory may be shared by the threads of its pool. It never starts a thread.
 */
public final class NamedThreads implements ThreadFactory {
    private static final Logger log = LoggerFactory.getLogger(NamedThreads.class);
    private static final Thread.UncaughtExceptionHandler LOG_UNCAUGHT = (thread, e) -> log
            .error("thread {} died of an uncaught exception", thread.getName(), e);

    private final String prefix;
    private final boolean daemon;
    /** Null when every thread takes {@link #prefix} as its whole name. */
    private final AtomicInteger count;

    private NamedThreads(String prefix, boolean daemon, boolean numbered) {
        this.prefix = prefix;
        this.daemon = daemon;
        this.count = numbered ? new AtomicInteger() : null;
    }

    /** A factory of threads named {@code prefix-1}, {@code prefix-2}, ...: for a pool. */
    public static NamedThreads numbered(String prefix, boolean daemon) {
        return new NamedThreads(prefix, daemon, true);
    }

    /**
     * A factory whose threads are all named {@code name}: for an executor of one thread, whose
     * name then stays the same should it replace a thread that died.
     */
    public static NamedThreads single(String name, boolean daemon) {
        return new NamedThreads(name, daemon, false);
    }

    /** One thread, not started, that runs {@code body}. */
    public static Thread thread(String name, boolean daemon, Runnable body) {
        Thread thread = new Thread(body, name);
        thread.setDaemon(daemon);
        thread.setUncaughtExceptionHandler(LOG_UNCAUGHT);
        return thread;
    }

    @Override
    public Thread newThread(Runnable body) {
        return thread(count == null ? prefix : prefix + "-" + count.incrementAndGet(), daemon, body);
    }
}

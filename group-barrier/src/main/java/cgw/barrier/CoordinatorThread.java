package cgw.barrier;

import cgw.host.Libc;
import cgw.host.NamedThreads;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread that switches and releases the gates of every barrier. A guest's freeze is the
 * time between a gate's switch and its release, a few microseconds of work; on a busy host the
 * tail comes from the scheduler taking the CPU away from this thread in between. So the thread
 * asks Linux for a real-time policy (SCHED_FIFO, low priority) through jnr-ffi: it then runs
 * until it blocks, and it only ever runs that short, bounded step. Without the privilege
 * (CAP_SYS_NICE) it stays an ordinary thread and says so once in the log.
 */
final class CoordinatorThread implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CoordinatorThread.class);
    private static final int SCHED_FIFO = 1;
    private static final int PRIORITY = 10;

    private final ExecutorService executor = Executors
            .newSingleThreadExecutor(NamedThreads.single("cgw-barrier-coordinator", true));

    CoordinatorThread() {
        executor.execute(CoordinatorThread::raisePriority);
    }

    /** Runs {@code step} on the coordinator thread and returns its result. */
    <T> T call(Callable<T> step) {
        Future<T> result = executor.submit(step);
        try {
            return result.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BarrierException("interrupted while the coordinator ran a barrier step", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new BarrierException("barrier step failed: " + e.getCause(), e.getCause());
        }
    }

    private static void raisePriority() {
        try {
            if (Libc.load().sched_setscheduler(0, SCHED_FIFO, new int[]{PRIORITY}) == 0) {
                log.info("barrier coordinator runs with SCHED_FIFO priority {}", PRIORITY);
            } else {
                log.info("barrier coordinator runs at normal priority: sched_setscheduler failed with errno {}"
                        + " (needs CAP_SYS_NICE); freeze tails will follow the host's CPU load",
                        Libc.errno());
            }
        } catch (LinkageError | RuntimeException e) {
            log.info("barrier coordinator runs at normal priority: {}", e.toString());
        }
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}

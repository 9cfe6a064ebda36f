package cgw.tools;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * Turns SIGTERM and SIGINT into a stop request that the serve thread awaits; that thread then
 * shuts the gateway down in order and the process exits 0. Left to the JVM, these signals would
 * run the shutdown hooks and exit 143. The handlers run on the JVM's signal thread and only
 * release a latch: they never close anything themselves.
 */
final class StopSignals {
    private static final Logger log = LoggerFactory.getLogger(StopSignals.class);
    private static final List<String> STOP = List.of("TERM", "INT");

    private final CountDownLatch stop = new CountDownLatch(1);
    private volatile String received;

    private StopSignals() {
    }

    static StopSignals install() {
        StopSignals signals = new StopSignals();
        for (String name : STOP) {
            try {
                Signal.handle(new Signal(name), signal -> signals.request("SIG" + signal.getName()));
            } catch (IllegalArgumentException e) {
                // e.g. the JVM runs with -Xrs: the shutdown hook still closes the gateway, exit code 128+n
                log.warn("cannot handle SIG{} ({}); it will stop the gateway through the shutdown hook", name,
                        e.getMessage());
            }
        }
        return signals;
    }

    private void request(String signal) {
        received = signal;
        stop.countDown();
    }

    /** Blocks until a stop signal arrives and returns its name, like {@code SIGTERM}. */
    String await() throws InterruptedException {
        stop.await();
        return received;
    }
}

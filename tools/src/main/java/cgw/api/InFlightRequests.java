package cgw.api;

/**
 * Counts requests from their arrival to the end of their reply's write, so that shutdown can
 * stop admitting new ones and wait for the rest. Entered and exited on the event loops, drained
 * by the closing thread; the monitor guards both fields. Admission is never blocking.
 */
final class InFlightRequests {
    private int count;
    private boolean draining;

    /** Admits a request, or returns false once draining has begun. */
    synchronized boolean tryEnter() {
        if (draining) {
            return false;
        }
        count++;
        return true;
    }

    synchronized void exit() {
        if (count <= 0) {
            throw new IllegalStateException("more request exits than entries");
        }
        count--;
        if (count == 0) {
            notifyAll();
        }
    }

    /** Refuses new requests, then waits up to {@code timeoutMs} for the admitted ones; true when none is left. */
    synchronized boolean drain(long timeoutMs) throws InterruptedException {
        draining = true;
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        while (count > 0) {
            long leftMs = (deadline - System.nanoTime()) / 1_000_000;
            if (leftMs <= 0) {
                return false;
            }
            wait(leftMs);
        }
        return true;
    }
}

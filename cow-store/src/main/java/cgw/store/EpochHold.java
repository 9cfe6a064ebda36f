package cgw.store;

import java.util.concurrent.atomic.AtomicBoolean;

/** A reader's hold on a retained epoch ({@link BlockStore#hold}); closing it more than once is harmless. */
public final class EpochHold implements AutoCloseable {
    private final Runnable unhold;
    private final AtomicBoolean closed = new AtomicBoolean();

    EpochHold(Runnable unhold) {
        this.unhold = unhold;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            unhold.run();
        }
    }
}

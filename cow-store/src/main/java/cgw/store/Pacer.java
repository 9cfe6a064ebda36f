package cgw.store;

/** Spreads work to at most {@code perSecond} units a second by sleeping between chunks. One thread. */
final class Pacer {
    private final long perSecond;
    private final long startNanos = System.nanoTime();
    private long done;

    Pacer(long perSecond) {
        this.perSecond = perSecond;
    }

    void pace(long units) {
        done += units;
        if (perSecond == Long.MAX_VALUE) {
            return;
        }
        long dueNanos = (long) (done * 1e9 / perSecond);
        long aheadNanos = dueNanos - (System.nanoTime() - startNanos);
        if (aheadNanos > 1_000_000) {
            try {
                Thread.sleep(aheadNanos / 1_000_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

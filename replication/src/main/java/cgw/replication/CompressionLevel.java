package cgw.replication;

/**
 * The zstd level a group's shipper packs with, moved one step after every
 * {@link #WINDOW_BODIES} bodies and at the end of each epoch from how they went, as
 * {@code zstd --adapt} does: where the shipper waited on the link (the window of bodies in flight
 * full, the bandwidth limit, an epoch's last answers beyond one round trip) for a good share of
 * the time it spent reading and packing, the link is the bottleneck and a higher level
 * carries more blocks per byte; where it hardly waited, its own CPU is, and a lower level ships
 * more blocks per second. Negative levels pack 2-3x faster than level 1 and give up a tenth to a
 * third of the ratio on real data; level 3 packs 3x slower for a few percent more.
 *
 * <p>Threads: the group's shipper.
 */
final class CompressionLevel {
    static final int[] LEVELS = {-7, -5, -3, -1, 1, 2, 3};
    static final int START = 1;
    /** Waiting more than this share of the packing time: link-bound. */
    static final double LINK_BOUND = 0.25;
    /** Waiting less than this share: CPU-bound. In between, the level stays. */
    static final double CPU_BOUND = 1.0 / 16;
    /** An epoch packed faster than this says nothing either way (a few blocks). */
    static final long MIN_PACKING_NANOS = 20_000_000;
    /** Bodies between two looks mid-epoch: a long epoch adapts as it goes. */
    static final int WINDOW_BODIES = 32;

    private int index = indexOf(START);
    private long windowStarted;
    private long windowWaited;
    private int windowBodies;

    int level() {
        return LEVELS[index];
    }

    /** An epoch's packing starts at {@code nowNanos}. */
    void epochStarted(long nowNanos) {
        windowStarted = nowNanos;
        windowWaited = 0;
        windowBodies = 0;
    }

    /** A body went to the link at {@code nowNanos}, after waiting {@code waitedNanos} for it since the last. */
    void bodySent(long nowNanos, long waitedNanos) {
        windowWaited += waitedNanos;
        if (++windowBodies >= WINDOW_BODIES) {
            shipped(nowNanos - windowStarted - windowWaited, windowWaited, 0);
            epochStarted(nowNanos);
        }
    }

    /**
     * The epoch's last answer came at {@code nowNanos}, after {@code waitedNanos} more of waiting,
     * which includes one round trip of {@code roundTripNanos}.
     */
    void epochEnded(long nowNanos, long waitedNanos, long roundTripNanos) {
        windowWaited += waitedNanos;
        shipped(nowNanos - windowStarted - windowWaited, windowWaited, roundTripNanos);
    }

    /**
     * Takes one stretch's timing into account: {@code packingNanos} spent reading and packing,
     * {@code waitingNanos} waiting for the link or the replica, of which {@code roundTripNanos}
     * any epoch's end costs. Returns the level for what follows.
     */
    int shipped(long packingNanos, long waitingNanos, long roundTripNanos) {
        if (packingNanos < MIN_PACKING_NANOS) {
            return level();
        }
        double waiting = Math.max(0, waitingNanos - roundTripNanos) / (double) packingNanos;
        if (waiting > LINK_BOUND && index < LEVELS.length - 1) {
            index++;
        } else if (waiting < CPU_BOUND && index > 0) {
            index--;
        }
        return level();
    }

    private static int indexOf(int level) {
        for (int i = 0; i < LEVELS.length; i++) {
            if (LEVELS[i] == level) {
                return i;
            }
        }
        throw new IllegalArgumentException("no level " + level);
    }
}

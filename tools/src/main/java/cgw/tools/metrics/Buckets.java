package cgw.tools.metrics;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Histogram bucket bounds for durations: 1, 2.5 and 5 of each power of ten, like Prometheus' defaults. */
final class Buckets {
    private static final long[] STEPS_TENTHS = {10, 25, 50};

    private Buckets() {
    }

    /** The bounds from {@code fromNanos} to {@code toNanos} (both powers of ten or 2.5 or 5 times one), in order. */
    static Duration[] between(long fromNanos, long toNanos) {
        List<Duration> bounds = new ArrayList<>();
        for (long decade = 1; decade <= toNanos; decade *= 10) {
            for (long tenths : STEPS_TENTHS) {
                long bound = decade * tenths / 10;
                if (bound >= fromNanos && bound <= toNanos) {
                    bounds.add(Duration.ofNanos(bound));
                }
            }
        }
        return bounds.toArray(Duration[]::new);
    }
}

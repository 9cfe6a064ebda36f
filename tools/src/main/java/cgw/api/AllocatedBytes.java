package cgw.api;

import cgw.host.NamedThreads;
import cgw.store.BlockStore;
import cgw.store.Extent;
import cgw.store.ExtentType;
import cgw.store.Volume;
import cgw.store.VolumeInfo;
import cgw.store.VolumeNotFoundException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bytes each volume holds data in (its extents that are neither holes nor zeros, a clone's
 * fall-through included), for volume listings. Measuring walks the volume's region records, which
 * costs in proportion to what it holds, so it never runs on a request: a listing shows the last
 * measure (null before the first) and asks for a new one once it is older than
 * {@link #MIN_REFRESH_MILLIS} or {@link #REFRESH_PER_MEASURE} times what it took, whichever is
 * longer: a large volume is measured seldom. One background thread measures, resting
 * {@link #REST_PER_MEASURE} times as long as each measure took, so that however many volumes a
 * listing names, measuring takes at most a tenth of a core; it stops when there is nothing to do.
 */
final class AllocatedBytes {
    private static final Logger log = LoggerFactory.getLogger(AllocatedBytes.class);
    static final long MIN_REFRESH_MILLIS = 5_000;
    static final long REFRESH_PER_MEASURE = 20;
    static final long REST_PER_MEASURE = 9;
    /** Extents are asked for this much of a volume at a time. */
    private static final long STEP_BYTES = 1L << 30;

    private record Measure(long volumeId, long bytes, long atMillis, long tookMillis) {
        boolean old(long now) {
            return now - atMillis > Math.max(MIN_REFRESH_MILLIS, REFRESH_PER_MEASURE * tookMillis);
        }
    }

    private final BlockStore store;
    private final Map<String, Measure> measures = new ConcurrentHashMap<>();
    private final Map<String, Boolean> queued = new ConcurrentHashMap<>();
    private final ThreadPoolExecutor worker;

    AllocatedBytes(BlockStore store) {
        this.store = store;
        this.worker = new ThreadPoolExecutor(1, 1, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                NamedThreads.numbered("cgw-allocated", true));
        worker.allowCoreThreadTimeOut(true);
    }

    /** The last measure of {@code volume}, or null; asks for a fresh one when it is missing or old. */
    Long of(VolumeInfo volume) {
        Measure measure = measures.get(volume.name());
        boolean current = measure != null && measure.volumeId() == volume.id();
        if (!current || measure.old(System.currentTimeMillis())) {
            schedule(volume.name());
        }
        return current ? measure.bytes() : null;
    }

    private void schedule(String name) {
        if (queued.putIfAbsent(name, Boolean.TRUE) != null) {
            return;
        }
        try {
            worker.execute(() -> {
                try {
                    measure(name);
                } finally {
                    queued.remove(name);
                }
            });
        } catch (RejectedExecutionException e) {
            queued.remove(name);
            log.debug("allocated bytes of {} not measured: {}", name, e.toString());
        }
    }

    private static void rest(long millis) {
        if (millis <= 0) {
            return;
        }
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // the worker is going away: stop resting
        }
    }

    private void measure(String name) {
        long start = System.currentTimeMillis();
        try {
            Volume volume = store.volume(name);
            VolumeInfo info = store.info(volume);
            long bytes = 0;
            for (long offset = 0; offset < info.sizeBytes(); offset += STEP_BYTES) {
                List<Extent> extents = store.extents(volume, BlockStore.HEAD, offset,
                        Math.min(STEP_BYTES, info.sizeBytes() - offset));
                for (Extent extent : extents) {
                    if (extent.type() == ExtentType.DATA) {
                        bytes += extent.length();
                    }
                }
            }
            long now = System.currentTimeMillis();
            measures.put(name, new Measure(info.id(), bytes, now, now - start));
            rest(REST_PER_MEASURE * (now - start));
        } catch (VolumeNotFoundException e) {
            measures.remove(name);
        } catch (RuntimeException e) {
            log.warn("cannot measure the allocated bytes of volume {}", name, e);
        }
    }
}

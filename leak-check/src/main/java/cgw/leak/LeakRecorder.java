package cgw.leak;

import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Runs every test of a module that has leak-check on its test class path with Netty's leak
 * detector at PARANOID and records each leak it reports, so that {@link NoLeaks} can fail the test
 * instead of a log line going unnoticed. Installed as a JUnit launcher session listener (found by
 * the launcher through {@code META-INF/services}, no switch needed), before any Netty buffer class
 * is loaded. Leaks are reported on whichever thread next allocates a tracked buffer; the list is
 * guarded by this class's monitor.
 */
public final class LeakRecorder extends ResourceLeakDetectorFactory implements LauncherSessionListener {
    private static final List<String> LEAKS = new ArrayList<>();

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(this);
    }

    @Override
    @SuppressWarnings("deprecation")
    public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval,
            long maxActive) {
        return new ResourceLeakDetector<>(resource, samplingInterval) {
            @Override
            protected boolean needReport() {
                return true;
            }

            @Override
            protected void reportTracedLeak(String resourceType, String records) {
                record(resourceType + " leaked:" + records);
                super.reportTracedLeak(resourceType, records);
            }

            @Override
            protected void reportUntracedLeak(String resourceType) {
                record(resourceType + " leaked (no records)");
                super.reportUntracedLeak(resourceType);
            }
        };
    }

    private static synchronized void record(String leak) {
        LEAKS.add(leak);
    }

    /** The leaks reported so far, forgotten once taken. */
    static synchronized List<String> take() {
        List<String> leaks = new ArrayList<>(LEAKS);
        LEAKS.clear();
        return leaks;
    }
}

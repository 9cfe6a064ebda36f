package cgw.tests.pg;

import java.util.ArrayList;
import java.util.List;

/**
 * Undo actions in the reverse order of what they undo (stop PostgreSQL, umount, losetup -d,
 * fusermount3 -u, kill the gateway), so a failed run leaves nothing mounted. Every action runs even
 * when an earlier one fails; the failures are reported together. Owned by the test thread.
 */
final class Teardown implements AutoCloseable {
    /** An undo action, which may fail. */
    @FunctionalInterface
    interface Action {
        void run() throws Exception;
    }

    private record Step(String what, Action action) {
    }

    private final List<Step> steps = new ArrayList<>();

    /** Registers {@code action}, to run before everything registered earlier. */
    void add(String what, Action action) {
        steps.add(new Step(what, action));
    }

    @Override
    public void close() {
        AssertionError failed = null;
        for (int i = steps.size() - 1; i >= 0; i--) {
            Step step = steps.remove(i);
            try {
                step.action.run();
            } catch (Exception | AssertionError e) {
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
                if (failed == null) {
                    failed = new AssertionError("teardown failed: " + step.what, e);
                } else {
                    failed.addSuppressed(new AssertionError(step.what, e));
                }
            }
        }
        if (failed != null) {
            throw failed;
        }
    }
}

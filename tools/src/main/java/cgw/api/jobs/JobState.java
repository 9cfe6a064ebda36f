package cgw.api.jobs;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * Where a job is (CONTRACT.md): {@code running} from submission until it ends (a queued job is
 * {@code running} with nothing done yet), then exactly one of the three final states.
 */
public enum JobState {
    RUNNING,
    DONE,
    FAILED,
    CANCELLED;

    public boolean finished() {
        return this != RUNNING;
    }

    @JsonValue
    public String json() {
        return name().toLowerCase(Locale.ROOT);
    }
}

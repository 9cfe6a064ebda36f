package cgw.api.jobs;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * A job as {@code GET /v1/jobs/{id}} shows it; absent fields (no error, not started) are left out.
 *
 * @param target  an export's repository
 * @param source  a restore's repository
 * @param result  once done: what the export or restore reported
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"id", "kind", "state", "snapshot", "target", "source", "incrementalFrom", "prefix", "bytesDone",
        "bytesTotal", "error", "createdAt", "startedAt", "finishedAt", "result"})
public record JobView(long id, String kind, JobState state, String target, String source, long snapshot,
        Long incrementalFrom, String prefix, long bytesDone, long bytesTotal, String error, String createdAt,
        String startedAt, String finishedAt, Object result) {
}

package cgw.replication;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import org.jspecify.annotations.Nullable;

/**
 * A group's replication status, as {@code GET /v1/groups/{name}/replication} shows it on either
 * side (CONTRACT.md v2). Absent fields are left out of the JSON.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonPropertyOrder({"group", "role", "state", "target", "intervalMs", "lastSnapshot", "lastSnapshotAt", "lagMs",
        "bytesShipped", "bytesChanged", "epochs", "generation", "error"})
public record ReplicationStatus(String group, String role, String state, @Nullable String target,
        @Nullable Long intervalMs, @Nullable Long lastSnapshot, @Nullable String lastSnapshotAt, @Nullable Long lagMs,
        long bytesShipped, long bytesChanged, long epochs, long generation, @Nullable String error) {
}

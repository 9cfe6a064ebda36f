package cgw.replication;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The JSON messages between a primary and its replica (docs/replication.md, "The protocol").
 * Every request carries the sender's generation and gateway id.
 */
public final class Wire {
    private Wire() {
    }

    /** A volume of the shipped group and its size at the shipped epoch. */
    public record VolumeSize(String name, long size) {
    }

    /** {@code POST /v1/replication/{group}/hello}. */
    public record Hello(long generation, String primary, List<VolumeSize> volumes) {
    }

    /** The replica's answer: its generation and the origins it holds for the group, newest first. */
    public record HelloReply(String gateway, long generation, List<String> held) {
    }

    /** {@code POST /v1/replication/{group}/epochs}: opens the epoch {@code origin}, shipped as a delta from {@code base}. */
    public record Begin(long generation, String primary, String origin, long createdAt, @Nullable String base,
            int keep, List<VolumeSize> volumes) {
    }

    /** {@code POST /v1/replication/{group}/epochs/current/commit}: the bodies and block bytes sent. */
    public record Commit(long generation, String primary, String origin, long bodies, long bytes) {
    }

    /** The replica's snapshot that now holds the epoch. */
    public record CommitReply(long snapshot) {
    }
}

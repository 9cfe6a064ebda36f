package cgw.barrier;

import java.util.List;
import java.util.Optional;

/**
 * A group snapshot: one sealed epoch of each of its volumes, all cut at one crash-consistent
 * point.
 *
 * @param id              positive, unique on the gateway, grows with time
 * @param group           the group it was taken of, or null for an ad-hoc set of volumes
 * @param label           the caller's label, or null
 * @param createdAtMillis when the barrier ran (epoch milliseconds)
 * @param members         each volume and its epoch, in volume id order
 * @param freezeMicros    how long replies were held, the longest over the volumes
 */
public record Snapshot(long id, String group, String label, long createdAtMillis, List<Member> members,
        long freezeMicros) {
    public Snapshot {
        members = List.copyOf(members);
    }

    /** One volume's part of a snapshot. */
    public record Member(String volume, long volumeId, long epoch) {
    }

    public List<String> volumeNames() {
        return members.stream().map(Member::volume).toList();
    }

    public Optional<Member> member(long volumeId) {
        return members.stream().filter(m -> m.volumeId() == volumeId).findFirst();
    }
}

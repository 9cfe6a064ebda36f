package cgw.barrier;

import cgw.store.CatalogChanges;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * How groups and snapshots are kept in the store's catalog, as JSON under names of their own:
 *
 * <pre>
 *   group/NAME          -> {"name", "volumes"}
 *   snapshot/ID         -> {"id", "group", "label", "createdAt", "members", "freezeMicros", "state"}
 *                          ID zero-padded to 19 digits, so names sort by id
 *   next-snapshot-id    -> the next id to hand out
 * </pre>
 *
 * A snapshot record is written {@code pending} in the same atomic write as the cut of its
 * epochs, and becomes {@code committed} once the epochs are sealed; a pending record found at
 * start-up belongs to a barrier that never finished and is rolled back. Stateless.
 */
final class CatalogRecords {
    static final String GROUPS = "group/";
    static final String SNAPSHOTS = "snapshot/";
    static final String NEXT_SNAPSHOT_ID = "next-snapshot-id";

    /** A snapshot as stored, with the state of its barrier. */
    record StoredSnapshot(long id, String group, String label, long createdAt, List<Snapshot.Member> members,
            long freezeMicros, String state) {
        static final String PENDING = "pending";
        static final String COMMITTED = "committed";

        static StoredSnapshot of(Snapshot snapshot, String state) {
            return new StoredSnapshot(snapshot.id(), snapshot.group(), snapshot.label(), snapshot.createdAtMillis(),
                    snapshot.members(), snapshot.freezeMicros(), state);
        }

        Snapshot snapshot() {
            return new Snapshot(id, group, label, createdAt, members, freezeMicros);
        }

        boolean committed() {
            return COMMITTED.equals(state);
        }
    }

    private CatalogRecords() {
    }

    static String snapshotKey(long id) {
        return SNAPSHOTS + String.format("%019d", id);
    }

    static String groupKey(String name) {
        return GROUPS + name;
    }

    static CatalogChanges putSnapshot(CatalogChanges changes, Snapshot snapshot, String state) {
        return changes.put(snapshotKey(snapshot.id()), encode(StoredSnapshot.of(snapshot, state)));
    }

    static CatalogChanges putGroup(CatalogChanges changes, Group group) {
        return changes.put(groupKey(group.name()), encode(group));
    }

    static CatalogChanges putNextSnapshotId(CatalogChanges changes, long next) {
        return changes.put(NEXT_SNAPSHOT_ID, Long.toString(next).getBytes(StandardCharsets.US_ASCII));
    }

    static long decodeNextSnapshotId(byte[] value) {
        return Long.parseLong(new String(value, StandardCharsets.US_ASCII));
    }

    static <T> T decode(String name, byte[] value, Class<T> type) {
        return CatalogJson.decode(name, value, type);
    }

    private static byte[] encode(Object record) {
        return CatalogJson.encode(record);
    }
}

package cgw.replication;

import cgw.barrier.CatalogJson;
import cgw.store.BlockStore;
import cgw.store.CatalogChanges;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * How replication keeps its state in the store's catalog, under names of its own:
 *
 * <pre>
 *   gateway-id                 -> this data directory's random id (made on first use)
 *   replication/group/NAME     -> {@link GroupRecord} as JSON
 *   replication/origin/ID      -> the {@link Origin} of local snapshot ID, when it was cut elsewhere
 *                                 (ID zero-padded to 19 digits)
 * </pre>
 *
 * A snapshot without an origin entry was cut here. Threads: any; every write is one atomic
 * catalog write.
 */
final class ReplicationCatalog {
    static final String GATEWAY_ID = "gateway-id";
    static final String GROUPS = "replication/group/";
    static final String ORIGINS = "replication/origin/";

    private final BlockStore store;

    ReplicationCatalog(BlockStore store) {
        this.store = store;
    }

    /** This gateway's id, made and stored (synced) on first use. */
    String gatewayId() {
        byte[] stored = store.catalogEntries(GATEWAY_ID).get(GATEWAY_ID);
        if (stored != null) {
            return new String(stored, StandardCharsets.US_ASCII);
        }
        String id = UUID.randomUUID().toString();
        store.updateCatalog(new CatalogChanges().put(GATEWAY_ID, id.getBytes(StandardCharsets.US_ASCII)), true);
        return id;
    }

    Map<String, GroupRecord> groups() {
        Map<String, GroupRecord> groups = new HashMap<>();
        store.catalogEntries(GROUPS).forEach(
                (key, value) -> groups.put(key.substring(GROUPS.length()),
                        CatalogJson.decode(key, value, GroupRecord.class)));
        return groups;
    }

    /** Origins of the snapshots that were cut elsewhere, by local snapshot id. */
    Map<Long, Origin> origins() {
        Map<Long, Origin> origins = new HashMap<>();
        store.catalogEntries(ORIGINS).forEach((key, value) -> origins.put(
                Long.parseLong(key.substring(ORIGINS.length())),
                Origin.parse(new String(value, StandardCharsets.UTF_8))));
        return origins;
    }

    static CatalogChanges putGroup(CatalogChanges changes, String group, GroupRecord record) {
        return changes.put(GROUPS + group, CatalogJson.encode(record));
    }

    static CatalogChanges deleteGroup(CatalogChanges changes, String group) {
        return changes.delete(GROUPS + group);
    }

    static CatalogChanges putOrigin(CatalogChanges changes, long snapshot, Origin origin) {
        return changes.put(originKey(snapshot), origin.toString().getBytes(StandardCharsets.UTF_8));
    }

    static CatalogChanges deleteOrigin(CatalogChanges changes, long snapshot) {
        return changes.delete(originKey(snapshot));
    }

    void write(CatalogChanges changes) {
        store.updateCatalog(changes, true);
    }

    private static String originKey(long snapshot) {
        return ORIGINS + String.format("%019d", snapshot);
    }
}

package cgw.api;

import cgw.nbd.export.ExportPolicy;
import cgw.store.BlockStore;
import cgw.store.CatalogChanges;
import cgw.store.Names;
import cgw.store.Volume;
import cgw.store.VolumeInfo;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which TLS client names may open each volume over NBD ({@code "clients"} in the volume API), and
 * the NBD handshake's {@link ExportPolicy}: a volume without a list is open to every client the
 * gateway's CA certified; one with a list only to those names (a client without a certificate is
 * never on a list), for {@code VOLUME} and every {@code VOLUME@ID} alike.
 *
 * <p>Lists are kept in the store's catalog under {@code volume-clients/ID} (the volume's id, so a
 * volume deleted and made again under its name starts open) and in memory, where the event loops
 * read them. Changes are serialised by this object's monitor and written synchronously before
 * they take effect.
 */
public final class VolumeClients implements ExportPolicy {
    private static final Logger log = LoggerFactory.getLogger(VolumeClients.class);
    static final String PREFIX = "volume-clients/";
    /** Most names on one volume's list. */
    static final int MAX_CLIENTS = 64;

    /** A volume's list, with the id it belongs to. */
    private record Entry(long volumeId, Set<String> clients) {
    }

    private final BlockStore store;
    private final Map<String, Entry> byVolume = new ConcurrentHashMap<>();

    private VolumeClients(BlockStore store) {
        this.store = store;
    }

    /** The lists in {@code store}'s catalog; those of volumes that no longer exist are removed. */
    public static VolumeClients load(BlockStore store) {
        VolumeClients clients = new VolumeClients(store);
        Map<Long, String> names = new HashMap<>();
        for (VolumeInfo volume : store.volumes()) {
            names.put(volume.id(), volume.name());
        }
        CatalogChanges stale = new CatalogChanges();
        store.catalogEntries(PREFIX).forEach((key, value) -> {
            long id = Long.parseLong(key.substring(PREFIX.length()));
            String name = names.get(id);
            if (name == null) {
                stale.delete(key); // its volume was deleted and the gateway stopped before this entry was
            } else {
                clients.byVolume.put(name, new Entry(id, decode(key, value)));
            }
        });
        if (!stale.isEmpty()) {
            store.updateCatalog(stale, true);
        }
        return clients;
    }

    /** The names that may open {@code volume}, sorted; null when any certified client may. */
    public @Nullable List<String> of(VolumeInfo volume) {
        Entry entry = byVolume.get(volume.name());
        return entry == null || entry.volumeId() != volume.id() ? null : List.copyOf(entry.clients());
    }

    /**
     * Sets who may open {@code volume}: {@code clients} names, or anyone when null. Connections
     * already open stay open.
     *
     * @throws ApiException 400 for a name that is not a valid client name or too many names
     */
    public synchronized void set(Volume volume, @Nullable List<String> clients) {
        String key = PREFIX + volume.id();
        if (clients == null) {
            store.updateCatalog(new CatalogChanges().delete(key), true);
            byVolume.remove(volume.name());
            return;
        }
        Set<String> names = check(clients);
        store.updateCatalog(new CatalogChanges().put(key, ApiJson.write(names)), true);
        byVolume.put(volume.name(), new Entry(volume.id(), names));
    }

    /** After {@code volume} was deleted. */
    public synchronized void forget(Volume volume) {
        Entry entry = byVolume.get(volume.name());
        if (entry != null && entry.volumeId() == volume.id()) {
            store.updateCatalog(new CatalogChanges().delete(PREFIX + volume.id()), true);
            byVolume.remove(volume.name());
        }
    }

    @Override
    public boolean allows(String export, @Nullable String client) {
        int at = export.indexOf('@');
        Entry entry = byVolume.get(at < 0 ? export : export.substring(0, at));
        return entry == null || client != null && entry.clients().contains(client);
    }

    /** The names of {@code clients}, sorted, once each; 400 for a bad name or too many. */
    static Set<String> check(List<String> clients) {
        if (clients.size() > MAX_CLIENTS) {
            throw new ApiException(ApiError.BAD_REQUEST,
                    "field 'clients' lists " + clients.size() + " names; at most " + MAX_CLIENTS);
        }
        Set<String> names = new TreeSet<>();
        for (String name : clients) {
            if (!Names.isValid(name)) {
                throw new ApiException(ApiError.BAD_REQUEST, "field 'clients': " + Names.refusal("client", name)
                        + " (the CN of a certificate from 'cgw tls client NAME')");
            }
            names.add(name);
        }
        return names;
    }

    private static Set<String> decode(String key, byte[] value) {
        try {
            List<String> names = new ArrayList<>();
            for (var node : ApiJson.readTree(value)) {
                names.add(node.asText());
            }
            return new TreeSet<>(names);
        } catch (IOException | RuntimeException e) {
            // fail closed: a volume whose list cannot be read is opened by nobody until it is set again
            log.error("catalog entry {} does not hold a list of client names; no client may open its volume", key, e);
            return Set.of();
        }
    }
}

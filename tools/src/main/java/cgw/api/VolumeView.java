package cgw.api;

import cgw.store.VolumeInfo;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.time.Instant;
import java.util.List;

/**
 * A volume as the API shows it; kept small and stable, since clients parse it.
 *
 * @param size      bytes
 * @param createdAt ISO-8601, UTC
 * @param parent    the volume this one was cloned from, or null
 * @param allocated   bytes holding data as last measured in the background, null before the first measure
 * @param headEpoch   the epoch writes go to now
 * @param group       the group it is in, or null
 * @param connections NBD connections that have it open now
 * @param clients     the TLS client names that may open it over NBD, or null for any
 */
@JsonPropertyOrder({"name", "size", "allocated", "createdAt", "parent", "headEpoch", "group", "connections",
        "clients"})
record VolumeView(String name, long size, Long allocated, String createdAt, String parent, long headEpoch,
        String group, int connections, List<String> clients) {
    static VolumeView of(VolumeInfo info, Long allocated, String group, int connections, List<String> clients) {
        return new VolumeView(info.name(), info.sizeBytes(), allocated,
                Instant.ofEpochMilli(info.createdAtMillis()).toString(), info.parent(), info.headEpoch(), group,
                connections, clients);
    }
}

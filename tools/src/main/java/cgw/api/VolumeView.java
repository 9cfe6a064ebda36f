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
 * @param headEpoch the epoch writes go to now
 * @param clients   the TLS client names that may open it over NBD, or null for any
 */
@JsonPropertyOrder({"name", "size", "createdAt", "parent", "headEpoch", "clients"})
record VolumeView(String name, long size, String createdAt, String parent, long headEpoch, List<String> clients) {
    static VolumeView of(VolumeInfo info, List<String> clients) {
        return new VolumeView(info.name(), info.sizeBytes(), Instant.ofEpochMilli(info.createdAtMillis()).toString(),
                info.parent(), info.headEpoch(), clients);
    }
}

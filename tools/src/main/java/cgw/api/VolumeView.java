package cgw.api;

import cgw.store.VolumeInfo;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.time.Instant;

/**
 * A volume as the API shows it; kept small and stable, since clients parse it.
 *
 * @param size      bytes
 * @param createdAt ISO-8601, UTC
 * @param parent    the volume this one was cloned from, or null
 * @param headEpoch the epoch writes go to now
 */
@JsonPropertyOrder({"name", "size", "createdAt", "parent", "headEpoch"})
record VolumeView(String name, long size, String createdAt, String parent, long headEpoch) {
    static VolumeView of(VolumeInfo info) {
        return new VolumeView(info.name(), info.sizeBytes(), Instant.ofEpochMilli(info.createdAtMillis()).toString(),
                info.parent(), info.headEpoch());
    }
}

package cgw.barrier;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/**
 * The JSON of records that layers above the store keep in its catalog (groups, snapshots,
 * replication): lenient on fields a newer version added, and an unreadable record is a broken
 * catalog, not bad input. Stateless.
 */
public final class CatalogJson {
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private CatalogJson() {
    }

    /** The record stored under {@code name}. */
    public static <T> T decode(String name, byte[] value, Class<T> type) {
        try {
            return JSON.readValue(value, type);
        } catch (IOException e) {
            throw new IllegalStateException("catalog record " + name + " is unreadable: " + e.getMessage(), e);
        }
    }

    public static byte[] encode(Object record) {
        try {
            return JSON.writeValueAsBytes(record);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode " + record, e);
        }
    }
}

package cgw.nbd.transmission;

import cgw.nbd.export.ChangedSince;
import org.jspecify.annotations.Nullable;

/**
 * The meta contexts a connection negotiated for BLOCK_STATUS, with the ids the client knows them by.
 *
 * @param allocationId the id of {@code base:allocation}, 0 when not selected
 * @param changesId    the id of {@code cgw:changed-since:ID}, 0 when not selected
 * @param changes      that context resolved, null when not selected
 */
public record MetaContexts(int allocationId, int changesId, @Nullable ChangedSince changes) {
    public static final MetaContexts NONE = new MetaContexts(0, 0, null);

    public MetaContexts {
        if ((changesId == 0) != (changes == null)) {
            throw new IllegalArgumentException("a changes context needs both its id and its resolution");
        }
    }

    /** Only {@code base:allocation}, under {@code id}. */
    public static MetaContexts allocation(int id) {
        return new MetaContexts(id, 0, null);
    }

    /** Whether BLOCK_STATUS has any context to answer in. */
    public boolean any() {
        return allocationId != 0 || changesId != 0;
    }
}

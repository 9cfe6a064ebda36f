package cgw.nbd.export;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Resolves export names for the handshake. Called on Netty event loops: implementations answer
 * from memory and never touch disk.
 */
public interface ExportRegistry {
    /** The export of that name, or null when there is none. */
    @Nullable
    ExportInfo find(String name);

    /** The exports {@code NBD_OPT_LIST} shows. */
    List<ExportInfo> list();

    /**
     * Opens an export for one connection. Every opened export is closed exactly once, when its
     * connection ends.
     *
     * @throws ExportNotFoundException when the export vanished since {@link #find}
     */
    Export open(String name);

    /**
     * Resolves the {@code cgw:changed-since:SNAPSHOT} meta context for the export {@code name}.
     *
     * @throws MetaContextRefusedException naming why, when the snapshot is unknown, does not hold
     *                                     the volume (or one it was cloned from) or is newer than the export
     */
    default ChangedSince changedSince(String name, String snapshot) {
        throw new MetaContextRefusedException("this server does not track changed blocks");
    }
}

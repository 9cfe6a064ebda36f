package cgw.nbd.export;

import org.jspecify.annotations.Nullable;

/**
 * Which clients may see and open which exports: a layer in front of the {@link ExportRegistry},
 * consulted by the handshake for {@code LIST}, {@code INFO}, {@code GO}, {@code EXPORT_NAME} and
 * meta contexts. A refused client gets {@code NBD_REP_ERR_POLICY} (and does not see the export in
 * a list). Called on Netty event loops: implementations answer from memory.
 */
@FunctionalInterface
public interface ExportPolicy {
    /** Every client may open every export. */
    ExportPolicy ANYONE = (export, client) -> true;

    /**
     * @param export the export name as the client asked for it ({@code VOLUME} or {@code VOLUME@ID})
     * @param client the CN of the client's TLS certificate, null without TLS
     */
    boolean allows(String export, @Nullable String client);
}

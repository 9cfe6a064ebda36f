package cgw.nbd.handshake;

import cgw.nbd.export.Export;
import cgw.nbd.export.ExportPolicy;
import cgw.nbd.export.ExportRegistry;
import cgw.nbd.transmission.MetaContexts;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.ssl.SslContext;
import org.jspecify.annotations.Nullable;

/**
 * The handlers of one connection's fixed newstyle handshake, each one concern, in the order an
 * option meets them:
 * <pre>
 *   handshake      OptionDecoder   greeting, client flags, options framed whole
 *   tls-required   TlsRequired     FORCEDTLS: only STARTTLS and ABORT before TLS (TLS servers only)
 *   negotiation    Negotiation     answers options; GO and EXPORT_NAME hand over to transmission
 * </pre>
 * Built on the event loop when a connection is accepted; removed whole once an export is chosen.
 */
public final class HandshakePipeline {
    static final String DECODER = "handshake";
    static final String TLS_REQUIRED = "tls-required";
    static final String NEGOTIATION = "negotiation";

    /** Installs the transmission phase once an export is chosen. */
    @FunctionalInterface
    public interface Transmission {
        /**
         * Adds the transmission handlers after the handler named {@code after}, which still holds
         * the bytes the client sent beyond the handshake.
         *
         * @param contexts the negotiated meta contexts
         */
        void start(ChannelPipeline pipeline, String after, Export export, boolean structured, MetaContexts contexts);
    }

    private HandshakePipeline() {
    }

    /**
     * Adds the handshake handlers at the end of {@code pipeline}. With {@code tls} the server is
     * FORCEDTLS; without, STARTTLS is refused. {@code policy} decides which exports the client
     * may see and open.
     */
    public static void install(ChannelPipeline pipeline, ExportRegistry exports, ExportPolicy policy,
            @Nullable SslContext tls, int maxPayloadBytes, Transmission transmission) {
        pipeline.addLast(DECODER, new OptionDecoder());
        if (tls != null) {
            pipeline.addLast(TLS_REQUIRED, new TlsRequired());
        }
        pipeline.addLast(NEGOTIATION, new Negotiation(exports, policy, tls, maxPayloadBytes, transmission));
    }

    /**
     * Installs the transmission phase and removes the handshake handlers, the decoder last: the
     * bytes it still holds pass on to the transmission handlers.
     */
    static void handOver(ChannelPipeline pipeline, Transmission transmission, Export export, boolean structured,
            MetaContexts contexts) {
        transmission.start(pipeline, DECODER, export, structured, contexts);
        if (pipeline.get(TLS_REQUIRED) != null) {
            pipeline.remove(TLS_REQUIRED);
        }
        pipeline.remove(NEGOTIATION);
        pipeline.remove(DECODER);
    }
}

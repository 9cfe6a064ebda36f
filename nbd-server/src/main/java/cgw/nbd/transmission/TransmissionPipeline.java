package cgw.nbd.transmission;

import cgw.host.InFlight;
import cgw.nbd.export.Export;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;

/**
 * The handlers of one connection's transmission phase, each one concern, in the order a request
 * meets them:
 * <pre>
 *   requests    RequestDecoder     bytes to Request frames (WRITE payloads included)
 *   validate    RequestValidator   refuses what the export may not see, with the NBD error
 *   flow        FlowControl        bounds requests and bytes in flight; DISC closes when idle
 *   dispatch    ExportDispatcher   calls the export, writes replies as it completes them
 * </pre>
 * Built on the event loop when the handshake picks an export; nothing here outlives the channel.
 */
public final class TransmissionPipeline {
    private TransmissionPipeline() {
    }

    /**
     * Adds the transmission handlers after the handler named {@code after} (at the end when null).
     *
     * @param contexts            the negotiated meta contexts
     * @param serverInFlight      requests in flight on every connection of the server
     * @param budget              the memory all connections of the server share
     * @param stallTimeoutMs      a payload that stops arriving, or replies not read, for this long close it
     */
    public static void install(ChannelPipeline pipeline, String after, Export export, boolean structured,
            MetaContexts contexts, int maxPayloadBytes, int maxInFlightRequests,
            long maxInFlightBytes, InFlight serverInFlight, MemoryBudget budget, long stallTimeoutMs) {
        ReadGate gate = new ReadGate(pipeline.channel());
        ConnectionMemory memory = new ConnectionMemory(budget, gate);
        FlowControl flow = new FlowControl(export.info().name(), maxInFlightRequests, maxInFlightBytes, serverInFlight,
                gate, memory, stallTimeoutMs);
        RequestDecoder decoder = new RequestDecoder(maxPayloadBytes, gate, memory, stallTimeoutMs);
        budget.relief().watch(pipeline.channel(), decoder, memory);
        String previous = after;
        previous = add(pipeline, previous, "requests", decoder);
        previous = add(pipeline, previous, "validate",
                new RequestValidator(export.info(), structured, contexts.any(), maxPayloadBytes));
        previous = add(pipeline, previous, "flow", flow);
        add(pipeline, previous, "dispatch", new ExportDispatcher(export, structured, contexts, flow));
    }

    private static String add(ChannelPipeline pipeline, String after, String name, ChannelHandler handler) {
        if (after == null) {
            pipeline.addLast(name, handler);
        } else {
            pipeline.addAfter(after, name, handler);
        }
        return name;
    }
}

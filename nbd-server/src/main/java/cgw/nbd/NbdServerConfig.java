package cgw.nbd;

import cgw.nbd.export.ExportPolicy;
import io.netty.handler.ssl.SslContext;
import io.netty.util.internal.PlatformDependent;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * How the NBD server listens and what it allows.
 *
 * @param tcp                  TCP address to listen on (port 0 picks one), or null for none
 * @param unixSocket           Unix socket path to listen on as well, or null
 * @param tls                  TLS context; when set, TLS is required (FORCEDTLS), else refused
 * @param maxPayloadBytes      largest READ/WRITE payload (advertised in NBD_INFO_BLOCK_SIZE)
 * @param maxInFlightRequests  per connection; past it the connection stops reading
 * @param maxInFlightBytes     per connection, payload bytes of requests not yet replied to
 * @param handshakeTimeoutMs   a client that has not entered transmission by then is dropped
 * @param stallTimeoutMs       a WRITE payload that stops arriving, or replies the client stops
 *                             reading, for this long close the connection
 * @param maxConnections       connections past this many are closed as they are accepted
 * @param memoryBudgetBytes    what all connections together may hold of payloads and replies
 * @param ioThreads            Netty event loop threads
 * @param policy               which clients may see and open which exports
 */
public record NbdServerConfig(
        InetSocketAddress tcp,
        @Nullable Path unixSocket,
        @Nullable SslContext tls,
        int maxPayloadBytes,
        int maxInFlightRequests,
        long maxInFlightBytes,
        long handshakeTimeoutMs,
        long stallTimeoutMs,
        int maxConnections,
        long memoryBudgetBytes,
        int ioThreads,
        ExportPolicy policy) {

    public static final int DEFAULT_MAX_PAYLOAD_BYTES = 32 << 20;

    public NbdServerConfig {
        // a request bigger than what the budget admits to one connection would wait forever
        if (memoryBudgetBytes / 4 * 3 < maxPayloadBytes) {
            throw new IllegalArgumentException("an NBD memory budget of " + memoryBudgetBytes + " bytes cannot admit a "
                    + maxPayloadBytes + "-byte request (three quarters of it must hold one); give the JVM more"
                    + " direct memory (-XX:MaxDirectMemorySize)");
        }
    }

    public static NbdServerConfig defaults(InetSocketAddress tcp) {
        return new NbdServerConfig(tcp, null, null, DEFAULT_MAX_PAYLOAD_BYTES, 128, 128L << 20, 30_000, 30_000, 512,
                defaultMemoryBudget(), Math.max(1, Runtime.getRuntime().availableProcessors()), ExportPolicy.ANYONE);
    }

    public NbdServerConfig withUnixSocket(Path path) {
        return new NbdServerConfig(tcp, path, tls, maxPayloadBytes, maxInFlightRequests, maxInFlightBytes,
                handshakeTimeoutMs, stallTimeoutMs, maxConnections, memoryBudgetBytes, ioThreads, policy);
    }

    public NbdServerConfig withTls(SslContext context) {
        return new NbdServerConfig(tcp, unixSocket, context, maxPayloadBytes, maxInFlightRequests, maxInFlightBytes,
                handshakeTimeoutMs, stallTimeoutMs, maxConnections, memoryBudgetBytes, ioThreads, policy);
    }

    public NbdServerConfig withHandshakeTimeoutMs(long timeoutMs) {
        return new NbdServerConfig(tcp, unixSocket, tls, maxPayloadBytes, maxInFlightRequests, maxInFlightBytes,
                timeoutMs, stallTimeoutMs, maxConnections, memoryBudgetBytes, ioThreads, policy);
    }

    public NbdServerConfig withPolicy(ExportPolicy exportPolicy) {
        return new NbdServerConfig(tcp, unixSocket, tls, maxPayloadBytes, maxInFlightRequests, maxInFlightBytes,
                handshakeTimeoutMs, stallTimeoutMs, maxConnections, memoryBudgetBytes, ioThreads, exportPolicy);
    }

    public NbdServerConfig withStallTimeoutMs(long timeoutMs) {
        return new NbdServerConfig(tcp, unixSocket, tls, maxPayloadBytes, maxInFlightRequests, maxInFlightBytes,
                handshakeTimeoutMs, timeoutMs, maxConnections, memoryBudgetBytes, ioThreads, policy);
    }

    public NbdServerConfig withMaxConnections(int connections) {
        return new NbdServerConfig(tcp, unixSocket, tls, maxPayloadBytes, maxInFlightRequests, maxInFlightBytes,
                handshakeTimeoutMs, stallTimeoutMs, connections, memoryBudgetBytes, ioThreads, policy);
    }

    public NbdServerConfig withMemoryBudgetBytes(long bytes) {
        return new NbdServerConfig(tcp, unixSocket, tls, maxPayloadBytes, maxInFlightRequests, maxInFlightBytes,
                handshakeTimeoutMs, stallTimeoutMs, maxConnections, bytes, ioThreads, policy);
    }

    /**
     * Half the JVM's direct memory, at most 4 GiB. The other half is for what the budget does not
     * count: the pool's partly used 16 MiB chunks (one or more per arena), the JDK's per-thread
     * buffers for file I/O, the store's and TLS's own.
     */
    static long defaultMemoryBudget() {
        return Math.min(PlatformDependent.maxDirectMemory() / 2, 4L << 30);
    }
}

package cgw.api;

/**
 * What one REST client may hold of the gateway.
 *
 * @param idleTimeoutMs    a connection with no request for this long is closed
 * @param requestTimeoutMs a request whose head and body have not all arrived this long after its
 *                         first byte is closed (a client trickling bytes holds nothing for long)
 * @param maxConnections   connections past this many are closed as they are accepted
 */
public record RestLimits(long idleTimeoutMs, long requestTimeoutMs, int maxConnections) {
    public static RestLimits defaults() {
        return new RestLimits(60_000, 30_000, 256);
    }
}

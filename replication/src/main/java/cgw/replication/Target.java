package cgw.replication;

import org.jspecify.annotations.Nullable;

/**
 * Where and how a primary ships a group: the replica's REST URL and token, the CA that signed its
 * certificate (PEM, null for the JDK's trusted ones), the interval between cuts, how many
 * replicated snapshots each side keeps, and a bandwidth limit (null for none).
 */
public record Target(String url, String token, @Nullable String caCert, long intervalMs, int keep,
        @Nullable Long bandwidthBytesPerSec) {
    public static final long DEFAULT_INTERVAL_MS = 1000;
    public static final long MIN_INTERVAL_MS = 100;
    public static final int DEFAULT_KEEP = 10;
    public static final int MAX_KEEP = 1000;
}

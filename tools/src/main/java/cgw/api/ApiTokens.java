package cgw.api;

/**
 * The gateway's REST tokens: {@code admin} may call everything; {@code read}, when there is one,
 * only {@code GET} (and {@code HEAD}) calls, {@code /metrics} among them, for Prometheus and
 * dashboards that only look.
 *
 * @param read null when the gateway has no read-only token
 */
public record ApiTokens(String admin, String read) {
    public ApiTokens {
        if (admin == null || admin.isEmpty()) {
            throw new IllegalArgumentException("the API token must not be empty");
        }
        if (read != null && (read.isEmpty() || read.equals(admin))) {
            throw new IllegalArgumentException("the read token must be set and differ from the API token");
        }
    }

    /** Only the admin token, as in tests and tools that serve a store alone. */
    public static ApiTokens adminOnly(String admin) {
        return new ApiTokens(admin, null);
    }
}

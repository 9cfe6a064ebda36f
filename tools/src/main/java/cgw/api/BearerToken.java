package cgw.api;

import io.netty.handler.codec.http.HttpMethod;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Checks {@code Authorization: Bearer TOKEN} against the gateway's {@link ApiTokens} in constant
 * time (the time depends only on the expected tokens' lengths: both are always compared).
 * Immutable; called on the event loops. It never logs or echoes any token.
 */
final class BearerToken {
    private static final String SCHEME = "Bearer ";

    private final byte[] admin;
    private final byte[] read;

    BearerToken(ApiTokens tokens) {
        this.admin = tokens.admin().getBytes(StandardCharsets.US_ASCII);
        this.read = tokens.read() == null ? null : tokens.read().getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Returns when {@code authorization} (the header's value, or null) carries a token that may
     * call {@code method}: 401 for none or a wrong one, 403 for the read token on a call that is
     * not a {@code GET}.
     */
    void check(String authorization, HttpMethod method) {
        if (authorization == null) {
            throw new ApiException(ApiError.UNAUTHORIZED, "missing 'Authorization: Bearer TOKEN' header");
        }
        if (!authorization.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
            throw new ApiException(ApiError.UNAUTHORIZED, "the Authorization header must use the Bearer scheme");
        }
        byte[] presented = authorization.substring(SCHEME.length()).strip().getBytes(StandardCharsets.US_ASCII);
        boolean isAdmin = MessageDigest.isEqual(admin, presented);
        boolean isReader = read != null && MessageDigest.isEqual(read, presented);
        if (isAdmin) {
            return;
        }
        if (!isReader) {
            throw new ApiException(ApiError.UNAUTHORIZED, "wrong API token");
        }
        if (!method.equals(HttpMethod.GET) && !method.equals(HttpMethod.HEAD)) {
            throw new ApiException(ApiError.FORBIDDEN,
                    "the read token may only GET; " + method + " needs the API token (DATA/api-token)");
        }
    }
}

package cgw.api;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Checks {@code Authorization: Bearer TOKEN} against the gateway's token in constant time (the
 * time depends only on the expected token's length). Immutable; called on the event loops. It
 * never logs or echoes either token.
 */
final class BearerToken {
    private static final String SCHEME = "Bearer ";

    private final byte[] expected;

    BearerToken(String token) {
        if (token.isEmpty()) {
            throw new IllegalArgumentException("the API token must not be empty");
        }
        this.expected = token.getBytes(StandardCharsets.US_ASCII);
    }

    /** Returns when {@code authorization} (the header's value, or null) carries the token; else 401. */
    void check(String authorization) {
        if (authorization == null) {
            throw new ApiException(ApiError.UNAUTHORIZED, "missing 'Authorization: Bearer TOKEN' header");
        }
        if (!authorization.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
            throw new ApiException(ApiError.UNAUTHORIZED, "the Authorization header must use the Bearer scheme");
        }
        byte[] presented = authorization.substring(SCHEME.length()).strip().getBytes(StandardCharsets.US_ASCII);
        if (!MessageDigest.isEqual(expected, presented)) {
            throw new ApiException(ApiError.UNAUTHORIZED, "wrong API token");
        }
    }
}

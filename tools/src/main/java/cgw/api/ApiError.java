package cgw.api;

import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * The errors the API answers with: each has a fixed HTTP status and a stable {@code error} code
 * for clients to switch on; the {@code detail} beside it is for people. Never renumber or rename
 * a code: scripts depend on them.
 */
public enum ApiError {
    BAD_REQUEST(HttpResponseStatus.BAD_REQUEST, "bad_request"),
    UNAUTHORIZED(HttpResponseStatus.UNAUTHORIZED, "unauthorized"),
    /** The token is right but may not do this, or a path lies outside what the gateway allows. */
    FORBIDDEN(HttpResponseStatus.FORBIDDEN, "forbidden"),
    NOT_FOUND(HttpResponseStatus.NOT_FOUND, "not_found"),
    METHOD_NOT_ALLOWED(HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed"),
    CONFLICT(HttpResponseStatus.CONFLICT, "conflict"),
    PAYLOAD_TOO_LARGE(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "payload_too_large"),
    INTERNAL(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal"),
    UNAVAILABLE(HttpResponseStatus.SERVICE_UNAVAILABLE, "unavailable"),
    TIMEOUT(HttpResponseStatus.GATEWAY_TIMEOUT, "timeout"),
    /** The store's disk is full: nothing was changed; retry once space is freed. */
    INSUFFICIENT_STORAGE(HttpResponseStatus.INSUFFICIENT_STORAGE, "insufficient_storage"),
    /** A replication epoch the sender must begin again (not a fencing conflict, which is {@link #CONFLICT}). */
    EPOCH_LOST(HttpResponseStatus.CONFLICT, "epoch_lost");

    private final HttpResponseStatus status;
    private final String code;

    ApiError(HttpResponseStatus status, String code) {
        this.status = status;
        this.code = code;
    }

    public HttpResponseStatus status() {
        return status;
    }

    public String code() {
        return code;
    }
}

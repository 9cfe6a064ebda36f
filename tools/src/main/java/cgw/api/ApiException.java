package cgw.api;

import io.netty.handler.codec.http.HttpMethod;
import java.util.Set;

/**
 * A request the API refuses at its edge (bad JSON, a bad size, an unknown route, a missing
 * token), with the error to answer and a detail naming the field and value. Thrown on whichever
 * thread validates the request; {@link ApiErrors} turns it into the reply.
 */
public final class ApiException extends RuntimeException {
    private final ApiError error;
    private final Set<HttpMethod> allowedMethods;

    public ApiException(ApiError error, String detail) {
        this(error, detail, Set.of());
    }

    private ApiException(ApiError error, String detail, Set<HttpMethod> allowedMethods) {
        super(detail);
        this.error = error;
        this.allowedMethods = allowedMethods;
    }

    /** A known route asked with a method it does not serve; the reply names the ones it does. */
    public static ApiException methodNotAllowed(HttpMethod method, String path, Set<HttpMethod> allowed) {
        return new ApiException(ApiError.METHOD_NOT_ALLOWED, method + " is not allowed on " + path,
                Set.copyOf(allowed));
    }

    public ApiError error() {
        return error;
    }

    /** Empty unless this is {@link ApiError#METHOD_NOT_ALLOWED}. */
    public Set<HttpMethod> allowedMethods() {
        return allowedMethods;
    }
}

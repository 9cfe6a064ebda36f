package cgw.api;

import io.netty.handler.codec.http.HttpMethod;
import java.util.Map;

/**
 * A request as actions see it: decoded path parameters and a copy of the body, detached from
 * Netty's buffers so it may cross to the store pool. Immutable.
 *
 * @param pathParams values of the {@code {name}} segments of the route's template
 */
public record ApiRequest(HttpMethod method, String path, Map<String, String> pathParams, byte[] body) {
    public ApiRequest {
        pathParams = Map.copyOf(pathParams);
    }

    /** A path parameter the route's template declares. */
    public String pathParam(String name) {
        String value = pathParams.get(name);
        if (value == null) {
            throw new IllegalStateException("route of " + path + " has no parameter {" + name + "}");
        }
        return value;
    }
}

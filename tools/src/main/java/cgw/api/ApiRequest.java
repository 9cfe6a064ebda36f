package cgw.api;

import io.netty.handler.codec.http.HttpMethod;
import java.util.List;
import java.util.Map;

/**
 * A request as actions see it: decoded path parameters and a copy of the body, detached from
 * Netty's buffers so it may cross to the store pool. Immutable.
 *
 * @param pathParams values of the {@code {name}} segments of the route's template
 * @param query      decoded query parameters, each with its values in order
 */
public record ApiRequest(HttpMethod method, String path, Map<String, String> pathParams,
        Map<String, List<String>> query, byte[] body) {
    public ApiRequest {
        pathParams = Map.copyOf(pathParams);
        query = Map.copyOf(query);
    }

    /** The value of a query parameter given at most once, or null when absent. */
    public String queryParam(String name) {
        List<String> values = query.getOrDefault(name, List.of());
        if (values.size() > 1) {
            throw new ApiException(ApiError.BAD_REQUEST,
                    "query parameter '" + name + "' is given " + values.size() + " times");
        }
        return values.isEmpty() ? null : values.get(0);
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

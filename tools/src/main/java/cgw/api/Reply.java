package cgw.api;

import io.netty.handler.codec.http.HttpResponseStatus;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What an action answers: a status, a body to write as JSON (null for none; a {@code byte[]} is
 * written as is, its {@code Content-Type} among the headers) and extra headers. Immutable; built
 * on whichever thread ran the action and handed to the event loop to write.
 */
public record Reply(HttpResponseStatus status, Object body, Map<String, String> headers) {
    public Reply {
        headers = Map.copyOf(headers);
    }

    public static Reply ok(Object body) {
        return new Reply(HttpResponseStatus.OK, body, Map.of());
    }

    public static Reply created(Object body, String location) {
        return new Reply(HttpResponseStatus.CREATED, body, Map.of("Location", location));
    }

    /** 200 with a body that is not JSON, such as the Prometheus text of {@code /metrics}. */
    public static Reply text(String contentType, String body) {
        return new Reply(HttpResponseStatus.OK, body.getBytes(StandardCharsets.UTF_8),
                Map.of("Content-Type", contentType));
    }

    public static Reply noContent() {
        return new Reply(HttpResponseStatus.NO_CONTENT, null, Map.of());
    }

    public Reply withHeader(String name, String value) {
        Map<String, String> more = new LinkedHashMap<>(headers);
        more.put(name, value);
        return new Reply(status, body, more);
    }

    /** The body as JSON bytes (raw bytes as they are), empty when there is none. */
    byte[] bodyBytes() {
        if (body instanceof byte[] raw) {
            return raw;
        }
        return body == null ? new byte[0] : ApiJson.write(body);
    }
}

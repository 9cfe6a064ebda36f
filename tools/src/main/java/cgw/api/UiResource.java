package cgw.api;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code /ui/}: the web dashboard's static files, read from the jar once and served without a
 * token (they hold no data: the page asks the REST API for it with the token the user gives it).
 * Public, so answered on the event loop from bytes in memory. The page may load only its own
 * scripts and talk only to this origin (Content-Security-Policy), and is never framed.
 */
final class UiResource {
    static final String PREFIX = "/ui/";
    private static final Map<String, String> FILES = Map.of(
            "index.html", "text/html; charset=utf-8",
            "app.js", "text/javascript; charset=utf-8",
            "style.css", "text/css; charset=utf-8");
    private static final Map<String, String> HEADERS = Map.of(
            "Cache-Control", "no-cache",
            "X-Content-Type-Options", "nosniff",
            "Referrer-Policy", "no-referrer",
            "Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
                    + " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");

    private final Map<String, Reply> replies = new LinkedHashMap<>();

    UiResource() {
        FILES.forEach((name, contentType) -> {
            Map<String, String> headers = new LinkedHashMap<>(HEADERS);
            headers.put("Content-Type", contentType);
            replies.put(name, new Reply(HttpResponseStatus.OK, read(name), headers));
        });
    }

    void addTo(Routes routes) {
        routes.addPublic(HttpMethod.GET, "/ui", request -> new Reply(HttpResponseStatus.MOVED_PERMANENTLY, null,
                Map.of("Location", PREFIX)))
                .addPublic(HttpMethod.GET, PREFIX, request -> replies.get("index.html"))
                .addPublic(HttpMethod.GET, PREFIX + "{file}", request -> {
                    Reply reply = replies.get(request.pathParam("file"));
                    if (reply == null) {
                        throw new ApiException(ApiError.NOT_FOUND, "no file " + request.pathParam("file")
                                + " in the dashboard");
                    }
                    return reply;
                });
    }

    private static byte[] read(String name) {
        try (InputStream in = UiResource.class.getResourceAsStream("/cgw/ui/" + name)) {
            if (in == null) {
                throw new IllegalStateException("the dashboard's " + name + " is missing from the jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the dashboard's " + name, e);
        }
    }
}

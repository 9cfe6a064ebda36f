package cgw.api;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The route table: path templates such as {@code /v1/volumes/{name}}, each with an action per
 * method. Built once on the starting thread, then only read (by the event loops). A route is
 * either public (no token, runs on the event loop, so it must never touch the store) or guarded
 * (token required, runs on the store pool).
 */
public final class Routes {
    /** Handles one request of a route; may throw, {@link ApiErrors} turns failures into replies. */
    @FunctionalInterface
    public interface Action {
        Reply handle(ApiRequest request) throws Exception;
    }

    /** Who may call a route and where it runs. */
    public enum Access {
        /** No token; runs on the event loop: cheap, never blocking, never the store. */
        PUBLIC,
        /** Bearer token required; runs on the store pool. */
        GUARDED
    }

    /** A path template and its actions by method. */
    public record Route(String template, Access access, Map<HttpMethod, Action> actions) {
        /** The action for {@code method}, or 405 naming the methods this route serves. */
        public Action action(HttpMethod method, String path) {
            Action action = actions.get(method);
            if (action == null) {
                throw ApiException.methodNotAllowed(method, path, actions.keySet());
            }
            return action;
        }
    }

    /** A route that matched a path, with the values of its parameters. */
    public record Match(Route route, Map<String, String> pathParams) {
    }

    private final Map<String, Route> byTemplate = new LinkedHashMap<>();

    public Routes addPublic(HttpMethod method, String template, Action action) {
        return add(Access.PUBLIC, method, template, action);
    }

    public Routes addGuarded(HttpMethod method, String template, Action action) {
        return add(Access.GUARDED, method, template, action);
    }

    private Routes add(Access access, HttpMethod method, String template, Action action) {
        if (!template.startsWith("/")) {
            throw new IllegalArgumentException("route template must start with '/': " + template);
        }
        Route route = byTemplate.computeIfAbsent(template, t -> new Route(t, access, new HashMap<>()));
        if (route.access() != access) {
            throw new IllegalArgumentException("route " + template + " mixes public and guarded methods");
        }
        if (route.actions().putIfAbsent(method, action) != null) {
            throw new IllegalArgumentException("route " + template + " has two " + method + " actions");
        }
        return this;
    }

    /** Every operation served, as {@code "METHOD /template"}, sorted. */
    public List<String> operations() {
        List<String> operations = new ArrayList<>();
        for (Route route : byTemplate.values()) {
            for (HttpMethod method : route.actions().keySet()) {
                operations.add(method.name() + " " + route.template());
            }
        }
        operations.sort(null);
        return operations;
    }

    /**
     * Whether a request matching {@code match} (null: no route) needs the token: every one but a
     * public route's, so that unknown paths do not reveal themselves without it.
     */
    static boolean needsToken(Match match) {
        return match == null || match.route().access() == Access.GUARDED;
    }

    /**
     * The route whose template matches {@code rawPath} (still percent-encoded, so an encoded
     * {@code /} stays inside its segment), or null.
     */
    public Match find(String rawPath) {
        String[] segments = segments(rawPath);
        for (Route route : byTemplate.values()) {
            Map<String, String> params = match(segments(route.template()), segments);
            if (params != null) {
                return new Match(route, params);
            }
        }
        return null;
    }

    private static Map<String, String> match(String[] template, String[] path) {
        if (template.length != path.length) {
            return null;
        }
        Map<String, String> params = new HashMap<>();
        for (int i = 0; i < template.length; i++) {
            String part = template[i];
            String value = QueryStringDecoder.decodeComponent(path[i]);
            if (part.startsWith("{") && part.endsWith("}")) {
                if (value.isEmpty()) {
                    return null;
                }
                params.put(part.substring(1, part.length() - 1), value);
            } else if (!part.equals(value)) {
                return null;
            }
        }
        return params;
    }

    private static String[] segments(String path) {
        List<String> parts = new ArrayList<>(Arrays.asList(path.split("/", -1)));
        parts.remove(0); // before the leading '/'
        return parts.toArray(String[]::new);
    }
}

package cgw.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code GET /v1/openapi.json}: the OpenAPI 3.1 description of the REST API, written by hand in
 * YAML under {@code openapi/} beside this class (the document's head and shared parts in
 * {@code openapi.yaml}, then one file per area with its paths and schemas, merged here) and served
 * as JSON. Public (no token) and answered on the event loop from bytes made once. The gateway
 * refuses to start when it does not describe every route ({@link #requireDescribes}), and
 * {@code OpenApiContractTest} holds it to real requests and replies.
 */
public final class OpenApiDocument {
    static final String RESOURCE = "openapi/openapi.yaml";
    private static final List<String> PARTS = List.of("openapi/volumes-groups.yaml",
            "openapi/snapshots-backups.yaml", "openapi/replication.yaml");
    static final String PATH = "/v1/openapi.json";

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Set<String> METHODS = Set.of("get", "put", "post", "delete", "patch", "head", "options");

    private final JsonNode document;
    private final byte[] json;

    private OpenApiDocument(JsonNode document) {
        this.document = document;
        this.json = ApiJson.write(document);
    }

    /** Reads the description from the jar; a missing or malformed one is a build error. */
    public static OpenApiDocument load() {
        ObjectNode document = (ObjectNode) read(RESOURCE);
        for (String part : PARTS) {
            JsonNode tree = read(part);
            merge(document, tree, "paths", part);
            merge(object(document, "components"), tree.path("components"), "schemas", part);
        }
        return new OpenApiDocument(document);
    }

    private static JsonNode read(String resource) {
        try (InputStream in = OpenApiDocument.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException(resource + " is missing from the jar");
            }
            return YAML.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resource, e);
        }
    }

    private static ObjectNode object(ObjectNode parent, String field) {
        return parent.get(field) instanceof ObjectNode node ? node : parent.putObject(field);
    }

    /** Adds the entries of {@code from.field} to {@code into.field}; a name defined twice is an error. */
    private static void merge(ObjectNode into, JsonNode from, String field, String part) {
        ObjectNode target = object(into, field);
        from.path(field).fields().forEachRemaining(entry -> {
            if (target.has(entry.getKey())) {
                throw new IllegalStateException(part + " defines " + field + " " + entry.getKey() + " again");
            }
            target.set(entry.getKey(), entry.getValue());
        });
    }

    /** Every operation described, as {@code "METHOD /path"}, sorted. */
    public List<String> operations() {
        List<String> operations = new ArrayList<>();
        document.path("paths").fields().forEachRemaining(path -> path.getValue().fieldNames().forEachRemaining(key -> {
            if (METHODS.contains(key)) {
                operations.add(key.toUpperCase(Locale.ROOT) + " " + path.getKey());
            }
        }));
        operations.sort(null);
        return operations;
    }

    /**
     * Refuses to serve a route table the description does not match operation for operation: a
     * route added without its description (or a description left behind) is a bug caught by the
     * first test that starts a gateway.
     */
    public void requireDescribes(Routes routes) {
        List<String> served = routes.operations();
        List<String> described = operations();
        if (!served.equals(described)) {
            List<String> undescribed = new ArrayList<>(served);
            undescribed.removeAll(described);
            List<String> unserved = new ArrayList<>(described);
            unserved.removeAll(served);
            throw new IllegalStateException(RESOURCE + " does not match the routes: not described " + undescribed
                    + ", described but not served " + unserved);
        }
    }

    /** Adds the public route that serves the description. */
    public Routes addTo(Routes routes) {
        Reply reply = new Reply(HttpResponseStatus.OK, json, Map.of("Content-Type", "application/json"));
        return routes.addPublic(HttpMethod.GET, PATH, request -> reply);
    }
}

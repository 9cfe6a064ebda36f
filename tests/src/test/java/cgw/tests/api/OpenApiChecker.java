package cgw.tests.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.dialect.OpenApi31;
import java.net.http.HttpResponse;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * Holds real requests and replies to the OpenAPI description the gateway serves: the operation
 * must be described, a JSON request body must match its schema, the reply's status must be one
 * the operation lists, and its body must match that status's schema (whose objects forbid
 * undescribed fields). Remembers which operations and statuses were seen.
 */
final class OpenApiChecker {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DOCUMENT = "https://cgw.invalid/openapi.json";

    private final JsonNode document;
    private final SchemaRegistry schemas;
    private final TreeSet<String> seen = new TreeSet<>();
    private final TreeSet<String> seenStatuses = new TreeSet<>();

    OpenApiChecker(String documentJson) throws Exception {
        this.document = JSON.readTree(documentJson);
        this.schemas = SchemaRegistry.withDefaultDialect(OpenApi31.getInstance(),
                builder -> builder.schemas(Map.of(DOCUMENT, documentJson)));
    }

    JsonNode document() {
        return document;
    }

    /** Every operation described, as {@code "METHOD /template"}. */
    TreeSet<String> operations() {
        TreeSet<String> operations = new TreeSet<>();
        document.get("paths").fields().forEachRemaining(path -> path.getValue().fieldNames()
                .forEachRemaining(method -> {
                    if (List.of("get", "put", "post", "patch", "delete").contains(method)) {
                        operations.add(method.toUpperCase(Locale.ROOT) + " " + path.getKey());
                    }
                }));
        return operations;
    }

    TreeSet<String> seen() {
        return seen;
    }

    TreeSet<String> seenStatuses() {
        return seenStatuses;
    }

    /**
     * Checks one exchange; {@code requestBody} null when none was sent; {@code jsonBody} whether
     * it was sent as JSON.
     */
    void check(String method, String rawPath, String requestBody, boolean jsonBody, HttpResponse<String> response) {
        String path = rawPath.contains("?") ? rawPath.substring(0, rawPath.indexOf('?')) : rawPath;
        String template = template(path);
        String what = method + " " + rawPath + " -> " + response.statusCode() + " " + response.body();
        assertThat(template).as("a described path for %s", what).isNotNull();
        JsonNode operation = document.get("paths").get(template).get(method.toLowerCase(Locale.ROOT));
        assertThat(operation).as("a described operation for %s", what).isNotNull();
        String pointer = "/paths/" + escape(template) + "/" + method.toLowerCase(Locale.ROOT);
        seen.add(method + " " + template);
        // a refused request may be refused for breaking the schema: only accepted ones must match it
        if (requestBody != null && jsonBody && response.statusCode() < 300) {
            JsonNode content = operation.path("requestBody").path("content").path("application/json");
            assertThat(content.isMissingNode()).as("%s takes a JSON body", what).isFalse();
            assertValid(pointer + "/requestBody/content/application~1json/schema", requestBody, "request of " + what);
        }
        String status = String.valueOf(response.statusCode());
        JsonNode described = operation.path("responses").path(status);
        assertThat(described.isMissingNode()).as("status %s is described for %s", status, what).isFalse();
        seenStatuses.add(method + " " + template + " " + status);
        JsonNode contents = resolve(described).path("content");
        String contentType = response.headers().firstValue("content-type").orElse("");
        if (response.body().isEmpty()) {
            assertThat(contents.size()).as("no body described for %s", what).isZero();
            return;
        }
        String mediaType = contentType.split(";")[0].trim();
        assertThat(contents.has(mediaType)).as("%s is described for %s (%s)", mediaType, what, contents).isTrue();
        if (mediaType.equals("application/json")) {
            String base = described.has("$ref")
                    ? described.get("$ref").asText().substring(1)
                    : pointer + "/responses/" + status;
            assertValid(base + "/content/application~1json/schema", response.body(), "reply of " + what);
        }
    }

    private void assertValid(String pointer, String json, String what) {
        Schema schema = schemas.getSchema(SchemaLocation.of(DOCUMENT + "#" + encode(pointer)));
        List<Error> errors = schema.validate(json, InputFormat.JSON);
        assertThat(errors).as("%s matches %s", what, pointer).isEmpty();
    }

    /** A response object, through its {@code $ref} to {@code components/responses} when it has one. */
    private JsonNode resolve(JsonNode node) {
        if (!node.has("$ref")) {
            return node;
        }
        JsonNode target = document;
        for (String part : node.get("$ref").asText().substring(2).split("/")) {
            target = target.path(part.replace("~1", "/").replace("~0", "~"));
        }
        return target;
    }

    /** The described path template a concrete path matches, or null. */
    private String template(String path) {
        String[] parts = path.split("/", -1);
        for (Iterator<String> it = document.get("paths").fieldNames(); it.hasNext();) {
            String template = it.next();
            String[] templateParts = template.split("/", -1);
            if (templateParts.length != parts.length) {
                continue;
            }
            boolean match = true;
            for (int i = 0; i < parts.length && match; i++) {
                match = templateParts[i].startsWith("{") ? !parts[i].isEmpty() : templateParts[i].equals(parts[i]);
            }
            if (match) {
                return template;
            }
        }
        return null;
    }

    private static String escape(String template) {
        return template.replace("~", "~0").replace("/", "~1");
    }

    /** A JSON pointer as a URI fragment: the braces of path templates percent-encoded. */
    private static String encode(String pointer) {
        return pointer.replace("{", "%7B").replace("}", "%7D");
    }
}

package cgw.tests.api;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLSession;
import org.junit.jupiter.api.Test;

/** The checker catches what it is there for: an undescribed field, status, path or body shape. */
class OpenApiCheckerTest {
    private static final String DOCUMENT = """
            {"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
             "paths": {"/v1/things/{name}": {"get": {"responses": {
               "200": {"description": "a thing", "content": {"application/json": {"schema":
                 {"$ref": "#/components/schemas/Thing"}}}},
               "404": {"$ref": "#/components/responses/NotFound"}}}}},
             "components": {
               "schemas": {"Thing": {"type": "object", "additionalProperties": false, "required": ["size"],
                 "properties": {"size": {"type": "integer"}}}},
               "responses": {"NotFound": {"description": "none", "content": {"application/json": {"schema":
                 {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}}}}}}}
            """;

    private record Response(int statusCode, String body) implements HttpResponse<String> {
        @Override
        public HttpRequest request() {
            return HttpRequest.newBuilder(URI.create("http://127.0.0.1/")).build();
        }

        @Override
        public Optional<HttpResponse<String>> previousResponse() {
            return Optional.empty();
        }

        @Override
        public HttpHeaders headers() {
            return HttpHeaders.of(Map.of("content-type", List.of("application/json")), (a, b) -> true);
        }

        @Override
        public Optional<SSLSession> sslSession() {
            return Optional.empty();
        }

        @Override
        public URI uri() {
            return request().uri();
        }

        @Override
        public HttpClient.Version version() {
            return HttpClient.Version.HTTP_1_1;
        }
    }

    @Test
    void describedRepliesPassAndEverythingElseFails() throws Exception {
        OpenApiChecker checker = new OpenApiChecker(DOCUMENT);
        assertThatCode(() -> checker.check("GET", "/v1/things/a", null, false, new Response(200, "{\"size\":1}")))
                .doesNotThrowAnyException();
        assertThatCode(() -> checker.check("GET", "/v1/things/a", null, false,
                new Response(404, "{\"error\":\"not_found\"}"))).doesNotThrowAnyException();
        assertThatThrownBy(() -> checker.check("GET", "/v1/things/a", null, false,
                new Response(200, "{\"size\":1,\"extra\":2}"))).hasMessageContaining("extra");
        assertThatThrownBy(() -> checker.check("GET", "/v1/things/a", null, false, new Response(200, "{}")))
                .hasMessageContaining("size");
        assertThatThrownBy(() -> checker.check("GET", "/v1/things/a", null, false,
                new Response(409, "{\"error\":\"conflict\"}"))).hasMessageContaining("status 409");
        assertThatThrownBy(() -> checker.check("GET", "/v1/other", null, false, new Response(200, "{}")))
                .hasMessageContaining("a described path");
        assertThatThrownBy(() -> checker.check("DELETE", "/v1/things/a", null, false, new Response(200, "{}")))
                .hasMessageContaining("a described operation");
    }
}

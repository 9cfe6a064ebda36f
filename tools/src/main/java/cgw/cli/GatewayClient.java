package cgw.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.time.Duration;
import java.util.Locale;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends one client command's requests to the gateway's REST API and reads the JSON answers. Used
 * by one command on the main thread. Every failure, refused or unanswered, becomes a
 * {@link CliException} whose message is the one line the user sees; it never logs the token.
 */
final class GatewayClient {
    private static final Logger log = LoggerFactory.getLogger(GatewayClient.class);
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** How long an answer may take, beyond any time the request itself asks the server to wait. */
    static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(60);
    /** Longest server text quoted in an error line. */
    private static final int MAX_QUOTED_CHARS = 200;
    /** Reads answers as they come; writes request bodies without absent (null) fields. */
    static final JsonMapper JSON = JsonMapper.builder()
            .defaultPropertyInclusion(
                    JsonInclude.Value.construct(JsonInclude.Include.NON_NULL, JsonInclude.Include.NON_NULL))
            .build();

    private final URI server;
    private final ApiToken token;
    private final HttpClient http;

    /**
     * @param server the API's base URL, {@code http} or {@code https}, without a trailing slash
     * @param tls    the TLS context for {@code https}, or null for the JDK's default trust
     */
    GatewayClient(URI server, ApiToken token, SSLContext tls) {
        this.server = server;
        this.token = token;
        HttpClient.Builder builder = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(CONNECT_TIMEOUT);
        if (tls != null) {
            builder.sslContext(tls);
        }
        this.http = builder.build();
    }

    /** A path segment with every character a name could carry that is not plain text percent-encoded. */
    static String segment(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    JsonNode get(String path) {
        return send("GET", path, null, Duration.ZERO);
    }

    JsonNode post(String path, Object body) {
        return post(path, body, Duration.ZERO);
    }

    /** A POST whose answer may take {@code serverWait} longer than usual (a barrier's timeout). */
    JsonNode post(String path, Object body, Duration serverWait) {
        return send("POST", path, body, serverWait);
    }

    JsonNode put(String path, Object body) {
        return send("PUT", path, body, Duration.ZERO);
    }

    JsonNode delete(String path) {
        return send("DELETE", path, null, Duration.ZERO);
    }

    /** The answer's JSON, or a {@link MissingNode} when it has no body (204). */
    private JsonNode send(String method, String path, Object body, Duration serverWait) {
        URI uri = URI.create(server + path);
        HttpRequest.Builder request = HttpRequest.newBuilder(uri)
                .timeout(ANSWER_TIMEOUT.plus(serverWait))
                .header("Authorization", "Bearer " + token.value())
                .header("Accept", "application/json");
        if (body == null) {
            request.method(method, BodyPublishers.noBody());
        } else {
            request.header("Content-Type", "application/json").method(method, BodyPublishers.ofByteArray(bytes(body)));
        }
        long startNanos = System.nanoTime();
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            log.debug("{} {} failed", method, uri, e);
            throw new CliException("cannot reach " + server + ": " + reason(e, uri), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted while waiting for " + server, e);
        }
        log.debug("{} {}: {} in {} ms", method, uri, response.statusCode(),
                (System.nanoTime() - startNanos) / 1_000_000);
        if (response.statusCode() / 100 != 2) {
            throw new CliException(refusal(response));
        }
        return answer(response);
    }

    private static byte[] bytes(Object body) {
        try {
            return JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            // request bodies are our own records and lists of strings; failing here is a bug in them
            throw new IllegalStateException("cannot write " + body.getClass().getSimpleName() + " as JSON", e);
        }
    }

    private JsonNode answer(HttpResponse<String> response) {
        if (response.body().isEmpty()) {
            return MissingNode.getInstance();
        }
        try {
            return JSON.readTree(response.body());
        } catch (JsonProcessingException e) {
            throw new CliException(server + " answered " + response.statusCode() + " with something that is not JSON: "
                    + quoted(response.body()), e);
        }
    }

    /** {@code "409 conflict: volume vm1 already exists"}, from the API's {@code {"error","detail"}} body. */
    private String refusal(HttpResponse<String> response) {
        int status = response.statusCode();
        JsonNode body;
        try {
            body = JSON.readTree(response.body());
        } catch (JsonProcessingException e) {
            body = MissingNode.getInstance();
        }
        JsonNode error = body.path("error");
        JsonNode detail = body.path("detail");
        if (!error.isTextual() || !detail.isTextual()) {
            // not the gateway's error body: a proxy, or another server on that port
            return status + " from " + server + (response.body().isBlank() ? "" : ": " + quoted(response.body()));
        }
        String line = status + " " + error.asText() + ": " + detail.asText();
        return status == 401 ? line + " (the token came from " + token.origin() + ")" : line;
    }

    /** Why the exchange failed, in words, from the innermost cause that explains it. */
    private static String reason(IOException failure, URI uri) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof HttpConnectTimeoutException) {
                return "no connection within " + CONNECT_TIMEOUT.toSeconds() + " s";
            }
            if (cause instanceof HttpTimeoutException) {
                return "no answer within the time allowed";
            }
            if (cause instanceof UnresolvedAddressException || cause instanceof UnknownHostException) {
                return "unknown host " + uri.getHost();
            }
            if (cause instanceof SSLException) {
                return "TLS failed: " + (untrusted(cause)
                        ? "the server's certificate is not from a trusted CA"
                        : cause.getMessage())
                        + " (for the gateway's own certificate, pass --ca-cert DATA/tls/ca-cert.pem)";
            }
            if (cause instanceof ConnectException && cause.getMessage() != null) {
                return cause.getMessage().toLowerCase(Locale.ROOT); // "connection refused", "network is unreachable"
            }
        }
        if (uri.getScheme().equals("http") && String.valueOf(failure.getMessage()).contains("received no bytes")) {
            // what the JDK says when a TLS server drops a plain HTTP request
            return "the server closed the connection without an answer (does it serve https?)";
        }
        if (failure instanceof ConnectException) {
            // JDK 17's client reports a refused connection as a ConnectException without a message
            return "connection refused";
        }
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause.getMessage() != null) {
                return cause.getMessage();
            }
        }
        return failure.getClass().getSimpleName();
    }

    /** Whether the handshake failed because no trusted CA signed the server's certificate. */
    private static boolean untrusted(Throwable failure) {
        for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
            if (cause instanceof CertPathBuilderException || cause instanceof CertPathValidatorException) {
                return true;
            }
        }
        return false;
    }

    /** At most {@link #MAX_QUOTED_CHARS} of {@code text}, on one line. */
    private static String quoted(String text) {
        String line = text.strip().replaceAll("\\s+", " ");
        return line.length() <= MAX_QUOTED_CHARS ? line : line.substring(0, MAX_QUOTED_CHARS) + "...";
    }
}

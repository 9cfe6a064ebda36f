package cgw.replication;

import cgw.host.TrustedCa;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The primary's calls to its replica's REST API (docs/replication.md, "The protocol"): JSON
 * messages and binary block bodies, with the replica's token, over HTTPS trusting the replica's CA
 * when one was given. Threads: one shipper at a time per instance.
 */
final class ReplicaClient {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    /** A commit flushes and cuts on the replica; a begin may roll a whole staged epoch back. */
    static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(120);
    private static final Logger log = LoggerFactory.getLogger(ReplicaClient.class);
    private static final int MAX_QUOTED_CHARS = 300;
    /** The error code of a 409 that means "begin again" (the replica's EpochLostException). */
    static final String EPOCH_LOST = "epoch_lost";
    private static final JsonMapper JSON = JsonMapper.builder()
            .defaultPropertyInclusion(
                    JsonInclude.Value.construct(JsonInclude.Include.NON_NULL, JsonInclude.Include.NON_NULL))
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    /** The replica answered with a refusal (4xx): retrying the same thing will not help. */
    static final class RefusedException extends RuntimeException {
        final int status;

        RefusedException(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    /** The replica could not be reached, or failed (5xx): worth retrying later. */
    static final class LinkException extends RuntimeException {
        /** No answer at all (connection refused, reset, timed out), as opposed to an error answered. */
        final boolean unanswered;

        LinkException(String message, @Nullable Throwable cause, boolean unanswered) {
            super(message, cause);
            this.unanswered = unanswered;
        }
    }

    private final URI base;
    private final String token;
    private final HttpClient http;
    private final String group;
    private final java.util.Set<CompletableFuture<?>> inFlight = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean aborted;

    ReplicaClient(Target target, String group) {
        this.base = URI.create(target.url().replaceAll("/+$", ""));
        this.token = target.token();
        this.group = group;
        HttpClient.Builder builder = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(CONNECT_TIMEOUT);
        if (target.caCert() != null) {
            builder.sslContext(TrustedCa.sslContext(target.caCert().getBytes(StandardCharsets.UTF_8),
                    "the replica's CA certificate"));
        }
        this.http = builder.build();
    }

    Wire.HelloReply hello(Wire.Hello hello) {
        return read(send("/hello", "application/json", json(hello)), Wire.HelloReply.class);
    }

    void begin(Wire.Begin begin) {
        send("/epochs", "application/json", json(begin));
    }

    /** Sends one body of blocks; completes when the replica wrote it, or with the refusal or failure. */
    CompletableFuture<Void> blocks(BlockBodies.Body body) {
        return sendAsync("/epochs/current/blocks", "application/octet-stream", new WrappedBody(body.array(),
                body.length())).thenApply(answer -> null);
    }

    Wire.CommitReply commit(Wire.Commit commit) {
        return read(send("/epochs/current/commit", "application/json", json(commit)), Wire.CommitReply.class);
    }

    private String send(String path, String contentType, byte[] body) {
        try {
            return sendAsync(path, contentType, new WrappedBody(body, body.length)).join();
        } catch (CompletionException e) {
            throw unwrap(e);
        }
    }

    /** The {@link RefusedException} or {@link LinkException} a failed call completed with. */
    static RuntimeException unwrap(Throwable failure) {
        Throwable cause = failure;
        while (cause instanceof CompletionException && cause.getCause() != null) {
            cause = cause.getCause();
        }
        return cause instanceof RuntimeException runtime
                ? runtime
                : new LinkException("talking to the replica failed: " + cause, cause, true);
    }

    /**
     * Ends every call in flight and refuses new ones: a gateway that stops does not wait for a
     * replica that does not answer.
     */
    void abort() {
        aborted = true;
        inFlight.forEach(call -> call.cancel(true));
    }

    /**
     * Whether the replica answers at all: a status call, which changes nothing there. What it
     * answers does not matter; the next epoch's calls will say.
     */
    boolean answers() {
        if (aborted) {
            return false;
        }
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/v1/groups/" + encoded(group) + "/replication"))
                .timeout(CONNECT_TIMEOUT)
                .header("Authorization", "Bearer " + token)
                .GET()
                .build();
        CompletableFuture<HttpResponse<Void>> call = tracked(http.sendAsync(request, BodyHandlers.discarding()));
        try {
            call.join();
            return true;
        } catch (CompletionException | java.util.concurrent.CancellationException e) {
            log.debug("the replica at {} does not answer yet: {}", base, e.getMessage());
            return false;
        }
    }

    /** Registers a call for {@link #abort}, which may have come meanwhile. */
    private <T> CompletableFuture<T> tracked(CompletableFuture<T> call) {
        inFlight.add(call);
        call.whenComplete((response, failure) -> inFlight.remove(call));
        if (aborted) {
            call.cancel(true);
        }
        return call;
    }

    private static String encoded(String name) {
        return URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private CompletableFuture<String> sendAsync(String path, String contentType, WrappedBody body) {
        if (aborted) {
            return CompletableFuture
                    .failedFuture(new LinkException("replication of " + group + " is stopping", null, false));
        }
        URI uri = URI.create(base + "/v1/replication/" + encoded(group) + path);
        HttpRequest request = HttpRequest.newBuilder(uri)
                .timeout(ANSWER_TIMEOUT)
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", contentType)
                .POST(body)
                .build();
        CompletableFuture<HttpResponse<String>> call = tracked(http.sendAsync(request,
                BodyHandlers.ofString(StandardCharsets.UTF_8)));
        return call.handle((response, failure) -> {
            if (failure != null) {
                Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                        ? failure.getCause()
                        : failure;
                throw new LinkException("cannot reach the replica at " + base + ": " + cause, cause, true);
            }
            int status = response.statusCode();
            if (status / 100 == 2) {
                return response.body();
            }
            String words = refusal(response.body());
            if (status == 409 && words.startsWith(EPOCH_LOST + ":")) {
                throw new LinkException("the replica at " + base + " lost the epoch: " + words, null, false);
            }
            if (status / 100 == 4) {
                throw new RefusedException(status, "the replica at " + base + " refused " + path + " (" + status
                        + "): " + words);
            }
            throw new LinkException("the replica at " + base + " failed " + path + " (" + status + "): " + words, null,
                    false);
        });
    }

    private static String refusal(String body) {
        try {
            JsonNode error = JSON.readTree(body);
            String detail = error.path("detail").asText("");
            String text = error.path("error").asText("") + (detail.isEmpty() ? "" : ": " + detail);
            if (!text.isEmpty()) {
                return text;
            }
        } catch (JsonProcessingException e) {
            // not our error JSON (a proxy's page): quoted below as it is
        }
        return body.length() > MAX_QUOTED_CHARS ? body.substring(0, MAX_QUOTED_CHARS) + "..." : body;
    }

    private static byte[] json(Object message) {
        try {
            return JSON.writeValueAsBytes(message);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + message.getClass().getSimpleName(), e);
        }
    }

    private <T> T read(String body, Class<T> type) {
        try {
            return JSON.readValue(body, type);
        } catch (JsonProcessingException e) {
            throw new LinkException("the replica at " + base + " answered something that is not " + type.getSimpleName()
                    + ": " + e.getOriginalMessage(), e, false);
        }
    }
}

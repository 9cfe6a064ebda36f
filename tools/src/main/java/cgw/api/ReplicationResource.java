package cgw.api;

import cgw.host.TrustedCa;
import cgw.replication.Replication;
import cgw.replication.Target;
import cgw.replication.Wire;
import io.netty.handler.codec.http.HttpMethod;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Replication (CONTRACT.md v2): {@code /v1/groups/{name}/replication}, demote and promote; and
 * the replica's side of the protocol under {@code /v1/replication/{group}} that a primary calls
 * with this gateway's token (docs/replication.md). Runs on the store pool.
 */
final class ReplicationResource {
    /** The body of {@code PUT /v1/groups/{name}/replication}. */
    record StartBody(String target, String targetToken, String targetCaCert, Long intervalMs, Integer keep,
            Long bandwidthBytesPerSec) {
    }

    /** The optional body of {@code POST /v1/groups/{name}/promote}. */
    record PromoteBody(Long snapshot) {
    }

    private static final long MAX_INTERVAL_MS = 24L * 3600 * 1000;
    private static final long MIN_BANDWIDTH = 64 * 1024;

    private final Replication replication;

    ReplicationResource(Replication replication) {
        this.replication = replication;
    }

    void addTo(Routes routes) {
        routes.addGuarded(HttpMethod.GET, "/v1/groups/{name}/replication",
                request -> Reply.ok(replication.status(request.pathParam("name"))))
                .addGuarded(HttpMethod.PUT, "/v1/groups/{name}/replication", this::start)
                .addGuarded(HttpMethod.DELETE, "/v1/groups/{name}/replication", this::stop)
                .addGuarded(HttpMethod.POST, "/v1/groups/{name}/demote",
                        request -> Reply.ok(Map.of("snapshot", replication.demote(request.pathParam("name")))))
                .addGuarded(HttpMethod.POST, "/v1/groups/{name}/promote", this::promote)
                .addGuarded(HttpMethod.POST, "/v1/replication/{group}/hello", request -> Reply.ok(replication.replica()
                        .hello(request.pathParam("group"), ApiJson.read(request.body(), Wire.Hello.class))))
                .addGuarded(HttpMethod.POST, "/v1/replication/{group}/epochs", this::begin)
                .addGuarded(HttpMethod.POST, "/v1/replication/{group}/epochs/current/blocks", this::blocks)
                .addGuarded(HttpMethod.POST, "/v1/replication/{group}/epochs/current/commit", request -> Reply.ok(
                        replication.replica().commit(request.pathParam("group"),
                                ApiJson.read(request.body(), Wire.Commit.class))));
    }

    private Reply start(ApiRequest request) throws IOException {
        StartBody body = ApiJson.read(request.body(), StartBody.class);
        return Reply.ok(replication.start(request.pathParam("name"), target(body)));
    }

    private Reply stop(ApiRequest request) {
        replication.stop(request.pathParam("name"));
        return Reply.noContent();
    }

    private Reply promote(ApiRequest request) throws IOException {
        Long snapshot = request.body().length == 0 ? null : ApiJson.read(request.body(), PromoteBody.class).snapshot();
        return Reply.ok(GroupResource.GroupView.of(replication.promote(request.pathParam("name"), snapshot)));
    }

    private Reply begin(ApiRequest request) throws IOException {
        replication.replica().begin(request.pathParam("group"), ApiJson.read(request.body(), Wire.Begin.class));
        return Reply.ok(Map.of());
    }

    private Reply blocks(ApiRequest request) {
        replication.replica().blocks(request.pathParam("group"), request.body());
        return Reply.noContent();
    }

    /** The settings of a start request, checked; every refusal names the field. */
    static Target target(StartBody body) {
        if (body.target() == null || body.targetToken() == null) {
            throw new ApiException(ApiError.BAD_REQUEST, "fields 'target' and 'targetToken' are required");
        }
        URI uri;
        try {
            uri = new URI(body.target());
        } catch (URISyntaxException e) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'target' is not a URL: " + e.getMessage());
        }
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null
                || uri.getUserInfo() != null || uri.getQuery() != null || uri.getFragment() != null) {
            throw new ApiException(ApiError.BAD_REQUEST,
                    "field 'target' must be the replica's REST URL, http(s)://HOST:PORT, got " + body.target());
        }
        if (body.targetToken().isBlank() || body.targetToken().chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'targetToken' must be the replica's API token");
        }
        if (body.targetCaCert() != null) {
            if (!"https".equals(uri.getScheme())) {
                throw new ApiException(ApiError.BAD_REQUEST, "field 'targetCaCert' needs an https target");
            }
            try {
                TrustedCa.sslContext(body.targetCaCert().getBytes(StandardCharsets.UTF_8), "field 'targetCaCert'");
            } catch (IllegalArgumentException e) {
                throw new ApiException(ApiError.BAD_REQUEST, e.getMessage());
            }
        }
        long interval = body.intervalMs() == null ? Target.DEFAULT_INTERVAL_MS : body.intervalMs();
        if (interval < Target.MIN_INTERVAL_MS || interval > MAX_INTERVAL_MS) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'intervalMs' must be from " + Target.MIN_INTERVAL_MS
                    + " to " + MAX_INTERVAL_MS + ", got " + interval);
        }
        int keep = body.keep() == null ? Target.DEFAULT_KEEP : body.keep();
        if (keep < 1 || keep > Target.MAX_KEEP) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'keep' must be from 1 to " + Target.MAX_KEEP
                    + ", got " + keep);
        }
        Long bandwidth = body.bandwidthBytesPerSec();
        if (bandwidth != null && bandwidth < MIN_BANDWIDTH) {
            throw new ApiException(ApiError.BAD_REQUEST, "field 'bandwidthBytesPerSec' must be at least "
                    + MIN_BANDWIDTH + ", got " + bandwidth);
        }
        return new Target(body.target(), body.targetToken(), body.targetCaCert(), interval, keep, bandwidth);
    }
}

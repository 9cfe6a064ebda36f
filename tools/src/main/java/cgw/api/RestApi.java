package cgw.api;

import cgw.store.BlockStore;
import io.netty.handler.codec.http.HttpMethod;
import java.util.Map;

/**
 * The gateway's route table as served today: health, then one resource per domain noun. New
 * resources (groups, snapshots, jobs) register here. Runs once, on the starting thread.
 */
final class RestApi {
    private static final Map<String, String> HEALTHY = Map.of("status", "ok");

    private RestApi() {
    }

    static Routes routes(BlockStore store) {
        Routes routes = new Routes().addPublic(HttpMethod.GET, "/healthz", request -> Reply.ok(HEALTHY));
        new VolumeResource(store).addTo(routes);
        return routes;
    }
}

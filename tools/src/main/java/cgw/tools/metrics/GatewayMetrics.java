package cgw.tools.metrics;

import cgw.api.Reply;
import cgw.api.Routes;
import cgw.barrier.GroupBarrier;
import cgw.store.BlockStore;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.handler.codec.http.HttpMethod;

/**
 * The gateway's metrics, served by {@code GET /metrics} (token required) in the Prometheus text
 * format 0.0.4. Times are in seconds; each {@code _max} is the largest value of the last few
 * minutes.
 *
 * <table>
 *   <caption>Metrics</caption>
 *   <tr><th>name</th><th>type</th><th>tags</th><th>what</th></tr>
 *   <tr><td>{@code cgw_barrier_freeze_seconds}</td><td>histogram (+ {@code _max})</td><td></td>
 *       <td>the freeze of each snapshot taken; buckets from 10 µs to 100 ms</td></tr>
 *   <tr><td>{@code cgw_snapshots_taken_total}</td><td>counter</td><td></td><td>snapshots published</td></tr>
 *   <tr><td>{@code cgw_snapshots_failed_total}</td><td>counter</td><td>{@code reason}: timeout, busy, other</td>
 *       <td>barriers that published nothing</td></tr>
 *   <tr><td>{@code cgw_volumes}</td><td>gauge</td><td></td><td>volumes in the store</td></tr>
 *   <tr><td>{@code cgw_store_gc_pending_tasks}</td><td>gauge</td><td></td>
 *       <td>collections waiting for the store's garbage collector</td></tr>
 * </table>
 *
 * <p>Threads: any. Made and wired by the gateway's starting thread before its front ends start;
 * scraped on the REST store pool; recorded by barrier callers.
 */
public final class GatewayMetrics implements AutoCloseable {
    /** The Content-Type of the Prometheus text format 0.0.4, which {@link #scrape} writes. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    public GatewayMetrics(BlockStore store) {
        Gauge.builder("cgw.volumes", () -> store.volumes().size())
                .description("Volumes in the store").register(registry);
        Gauge.builder("cgw.store.gc.pending.tasks", store::pendingReleases)
                .description("Collections waiting for the store's garbage collector (after releases, clone "
                        + "deletions and some cuts)")
                .register(registry);
    }

    /** Counts the snapshots of {@code barrier} and records their freeze. */
    public void listenTo(GroupBarrier barrier) {
        barrier.addListener(new SnapshotMetrics(registry));
    }

    /** Adds {@code GET /metrics} (guarded, so it runs on the REST store pool). */
    public void addTo(Routes routes) {
        routes.addGuarded(HttpMethod.GET, "/metrics", request -> Reply.text(CONTENT_TYPE, scrape()));
    }

    /** Every metric now, in the Prometheus text format. */
    public String scrape() {
        return registry.scrape(CONTENT_TYPE);
    }

    @Override
    public void close() {
        registry.close();
    }
}

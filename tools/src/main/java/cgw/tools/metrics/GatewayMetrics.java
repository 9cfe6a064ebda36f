package cgw.tools.metrics;

import cgw.api.Reply;
import cgw.api.Routes;
import cgw.barrier.GroupBarrier;
import cgw.nbd.export.ExportRegistry;
import cgw.replication.Replication;
import cgw.replication.ReplicationStatus;
import cgw.store.BlockStore;
import cgw.store.WriteOutcome;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.handler.codec.http.HttpMethod;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

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
 *   <tr><td>{@code cgw_nbd_request_duration_seconds}</td><td>histogram (+ {@code _max})</td>
 *       <td>{@code volume}, {@code op}</td><td>NBD requests from the call to the export to its completion
 *       (store work, epoch-gate waits and barrier holds included); {@code _count} counts the requests.
 *       {@code op}: read, write, write_zeroes, trim, flush, cache, block_status</td></tr>
 *   <tr><td>{@code cgw_nbd_request_errors_total}</td><td>counter</td><td>{@code volume}, {@code op}</td>
 *       <td>requests whose export operation failed (requests the NBD server refuses itself are not seen)</td></tr>
 *   <tr><td>{@code cgw_nbd_bytes_total}</td><td>counter</td><td>{@code volume}, {@code op}: read, write</td>
 *       <td>payload bytes of the reads and writes that succeeded</td></tr>
 *   <tr><td>{@code cgw_nbd_connections}</td><td>gauge</td><td></td><td>NBD connections with an export open</td></tr>
 *   <tr><td>{@code cgw_volumes}</td><td>gauge</td><td></td><td>volumes in the store</td></tr>
 *   <tr><td>{@code cgw_store_gc_pending_tasks}</td><td>gauge</td><td></td>
 *       <td>collections waiting for the store's garbage collector</td></tr>
 *   <tr><td>{@code cgw_store_sync_failed}</td><td>gauge</td><td></td>
 *       <td>1 once a sync of the store failed (it refuses writes until restarted), else 0</td></tr>
 *   <tr><td>{@code cgw_replication_lag_seconds}</td><td>gauge</td><td>{@code group}</td>
 *       <td>age of the newest epoch complete on the replica (NaN while the group does not ship)</td></tr>
 *   <tr><td>{@code cgw_replication_bytes_total}</td><td>counter</td><td>{@code group}</td>
 *       <td>bytes of block bodies shipped (on a replica: received); from zero at a change of role</td></tr>
 *   <tr><td>{@code cgw_replication_epochs_total}</td><td>counter</td><td>{@code group}</td>
 *       <td>epochs complete on the replica</td></tr>
 * </table>
 *
 * <p>{@code volume} is the volume's name; reads of {@code VOLUME@SNAPSHOT} exports count under
 * {@code VOLUME}. A volume's NBD meters appear when a connection first opens it and go at the
 * first scrape after it is deleted.
 *
 * <p>Threads: any. Made and wired by the gateway's starting thread before its front ends start;
 * scraped on the REST store pool; recorded on NBD event loops, store threads and barrier callers.
 * It never blocks the NBD path: recording is lock-free.
 */
public final class GatewayMetrics implements AutoCloseable {
    /** The Content-Type of the Prometheus text format 0.0.4, which {@link #scrape} writes. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final BlockStore store;
    /** Set once by {@link #meter}, before NBD serves; null when the gateway meters no NBD. */
    private volatile MeteredExports exports;
    /** Set once by {@link #watch}; null when the gateway replicates nothing. */
    private volatile Replication replication;
    /** Groups whose replication meters are registered; touched by scrapes only. */
    private final Set<String> replicatedGroups = ConcurrentHashMap.newKeySet();

    public GatewayMetrics(BlockStore store) {
        this.store = store;
        Gauge.builder("cgw.volumes", () -> store.volumes().size())
                .description("Volumes in the store").register(registry);
        Gauge.builder("cgw.store.gc.pending.tasks", store::pendingReleases)
                .description("Collections waiting for the store's garbage collector (after releases, clone "
                        + "deletions and some cuts)")
                .register(registry);
        Gauge.builder("cgw.store.sync.failed", () -> store.syncFailed() ? 1 : 0)
                .description("1 once a sync of the store failed: it refuses writes and flushes until the gateway is"
                        + " restarted")
                .register(registry);
        for (WriteOutcome outcome : WriteOutcome.values()) {
            FunctionCounter.builder("cgw.store.blocks.written", store, s -> s.blocksWritten(outcome))
                    .tag("outcome", outcome.name().toLowerCase(Locale.ROOT))
                    .description("Whole data blocks written to the value log, by whether they overwrote their "
                            + "previous version in place or were appended, and why")
                    .register(registry);
        }
    }

    /** Counts the snapshots of {@code barrier} and records their freeze. */
    public void listenTo(GroupBarrier barrier) {
        barrier.addListener(new SnapshotMetrics(registry));
    }

    /** Shows the lag, bytes and epochs of every replicated group of {@code watched}. */
    public void watch(Replication watched) {
        this.replication = watched;
    }

    /** {@code exports}, measured: per volume requests, latency, errors, bytes. Once per gateway. */
    public synchronized ExportRegistry meter(ExportRegistry exports) {
        if (this.exports != null) {
            throw new IllegalStateException("NBD exports are metered already");
        }
        MeteredExports metered = new MeteredExports(exports, store, registry);
        this.exports = metered;
        return metered;
    }

    /** Adds {@code GET /metrics} (guarded, so it runs on the REST store pool). */
    public void addTo(Routes routes) {
        routes.addGuarded(HttpMethod.GET, "/metrics", request -> Reply.text(CONTENT_TYPE, scrape()));
    }

    /** Every metric now, in the Prometheus text format; first forgets the meters of deleted volumes. */
    public String scrape() {
        MeteredExports metered = exports;
        if (metered != null) {
            metered.forgetDeletedVolumes();
        }
        Replication watched = replication;
        if (watched != null) {
            watched.statuses().forEach(status -> meterReplication(watched, status.group()));
        }
        return registry.scrape(CONTENT_TYPE);
    }

    private void meterReplication(Replication watched, String group) {
        if (!replicatedGroups.add(group)) {
            return;
        }
        Tags tags = Tags.of("group", group);
        Gauge.builder("cgw.replication.lag", watched, r -> figure(r, group, ReplicationStatus::lagMs) / 1000.0)
                .baseUnit("seconds").tags(tags).description("Age of the newest epoch complete on the replica")
                .register(registry);
        FunctionCounter
                .builder("cgw.replication.bytes", watched, r -> figure(r, group, ReplicationStatus::bytesShipped))
                .tags(tags).description("Bytes of block bodies shipped (received, on a replica)").register(registry);
        FunctionCounter.builder("cgw.replication.epochs", watched, r -> figure(r, group, ReplicationStatus::epochs))
                .tags(tags).description("Epochs complete on the replica").register(registry);
    }

    /** One figure of a group's status; NaN when the group or the figure is gone. */
    private static double figure(Replication watched, String group, Function<ReplicationStatus, Long> field) {
        for (ReplicationStatus status : watched.statuses()) {
            if (status.group().equals(group)) {
                Long value = field.apply(status);
                return value == null ? Double.NaN : value;
            }
        }
        return Double.NaN;
    }

    @Override
    public void close() {
        registry.close();
    }
}

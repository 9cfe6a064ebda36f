/** The gateway's metrics: Micrometer meters of the barrier, the store and NBD I/O, scraped as Prometheus text. */
package cgw.tools.metrics;

/**
 * Replication of groups to a second gateway: a sealed group epoch shipped every interval, applied
 * there all at once, with failover, fencing by generation and failback (docs/replication.md).
 */
package cgw.replication;

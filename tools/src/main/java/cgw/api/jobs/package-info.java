/** Backup jobs of the gateway: exports and restores queued, run a few at a time, watched and cancelled over REST; kept in memory only. */
package cgw.api.jobs;

/** Backups of group snapshots: a content-addressed repository of chunks and manifests, export, restore, verify, prune. */
package cgw.backup;

package cgw.nbd.export;

/**
 * A run of bytes in the answer to a {@code cgw:changed-since} block status: written since the
 * snapshot or not. Runs follow each other from the asked offset.
 */
public record ChangeRun(long length, boolean changed) {
}

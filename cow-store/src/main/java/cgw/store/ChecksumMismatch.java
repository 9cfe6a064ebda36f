package cgw.store;

/**
 * Block data that does not match its pointer's checksum: damage, or a read that raced an
 * overwrite in place (the read is then repeated under the blocks' stripe locks, which decides).
 */
final class ChecksumMismatch extends StoreException {
    ChecksumMismatch(String message) {
        super(message);
    }
}

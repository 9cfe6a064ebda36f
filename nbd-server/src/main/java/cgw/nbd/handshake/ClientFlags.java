package cgw.nbd.handshake;

/**
 * The client's flags, read once after the greeting.
 *
 * @param noZeroes the client set {@code NBD_FLAG_C_NO_ZEROES}: no reserved zeroes after an
 *                 {@code NBD_OPT_EXPORT_NAME} reply
 */
record ClientFlags(boolean noZeroes) {
}

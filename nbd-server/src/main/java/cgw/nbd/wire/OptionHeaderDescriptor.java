package cgw.nbd.wire;

/**
 * The header of each option a client sends during the handshake; its data follows.
 * <pre>
 *   0                  8        12       16
 *   +------------------+--------+--------+
 *   | IHAVEOPT         | option | length |
 *   +------------------+--------+--------+
 * </pre>
 */
public final class OptionHeaderDescriptor {
    public static final int MAGIC_OFFSET = 0;
    public static final int OPTION_OFFSET = 8;
    public static final int DATA_LENGTH_OFFSET = 12;
    public static final int LENGTH = 16;

    private OptionHeaderDescriptor() {
    }
}

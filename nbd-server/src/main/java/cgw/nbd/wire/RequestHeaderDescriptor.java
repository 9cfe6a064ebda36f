package cgw.nbd.wire;

/**
 * The header of every transmission request; a WRITE's payload of {@code length} bytes follows.
 * <pre>
 *   0        4      6      8                16               24       28
 *   +--------+------+------+----------------+----------------+--------+
 *   | magic  | flags| type | cookie         | offset         | length |
 *   +--------+------+------+----------------+----------------+--------+
 * </pre>
 */
public final class RequestHeaderDescriptor {
    public static final int MAGIC_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int TYPE_OFFSET = 6;
    public static final int COOKIE_OFFSET = 8;
    public static final int OFFSET_OFFSET = 16;
    public static final int LENGTH_OFFSET = 24;
    public static final int LENGTH = 28;

    private RequestHeaderDescriptor() {
    }
}

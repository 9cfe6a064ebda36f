package cgw.store.key;

/**
 * Values in the {@code blocks} column family. A value of exactly the store's block size is the
 * block's data. A one-byte value is a marker that reads as zeros and hides any older version and
 * any clone parent:
 *
 * <pre>
 *   [0x00]  ZERO  written as zeros (write-zeroes, or a data write that was all zeros)
 *   [0x01]  HOLE  trimmed: reads as zeros, reported as a hole
 * </pre>
 */
public final class BlockValue {
    public static final int MARKER_LENGTH = 1;
    public static final byte ZERO = 0;
    public static final byte HOLE = 1;

    private static final byte[] ZERO_VALUE = {ZERO};
    private static final byte[] HOLE_VALUE = {HOLE};

    private BlockValue() {
    }

    /** The marker value; callers must not modify the returned array. */
    public static byte[] marker(byte kind) {
        return switch (kind) {
            case ZERO -> ZERO_VALUE;
            case HOLE -> HOLE_VALUE;
            default -> throw new IllegalArgumentException("unknown block marker " + kind);
        };
    }
}

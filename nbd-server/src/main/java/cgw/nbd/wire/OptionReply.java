package cgw.nbd.wire;

/** Option reply types; errors have bit 31 set. */
public enum OptionReply {
    ACK(1),
    SERVER(2),
    INFO(3),
    META_CONTEXT(4),
    ERR_UNSUP((1 << 31) + 1),
    ERR_POLICY((1 << 31) + 2),
    ERR_INVALID(
            (1 << 31) + 3),
    ERR_PLATFORM((1 << 31) + 4),
    ERR_TLS_REQD((1 << 31) + 5),
    ERR_UNKNOWN(
            (1 << 31) + 6),
    ERR_SHUTDOWN(
            (1 << 31) + 7),
    ERR_BLOCK_SIZE_REQD((1 << 31) + 8),
    ERR_TOO_BIG((1 << 31) + 9);

    public final int code;

    OptionReply(int code) {
        this.code = code;
    }
}

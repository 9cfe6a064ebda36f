package cgw.nbd.wire;

/** Option types of the handshake; codes the server does not know map to {@link #UNKNOWN}. */
public enum Option {
    EXPORT_NAME(1),
    ABORT(2),
    LIST(3),
    STARTTLS(5),
    INFO(6),
    GO(7),
    STRUCTURED_REPLY(8),
    LIST_META_CONTEXT(
            9),
    SET_META_CONTEXT(10),
    UNKNOWN(-1);

    public final int code;

    Option(int code) {
        this.code = code;
    }

    public static Option of(int code) {
        for (Option option : values()) {
            if (option.code == code) {
                return option;
            }
        }
        return UNKNOWN;
    }
}

package cgw.nbd.wire;

/** Request types of the transmission phase; codes the server does not know map to {@link #UNKNOWN}. */
public enum Command {
    READ(0),
    WRITE(1),
    DISC(2),
    FLUSH(3),
    TRIM(4),
    CACHE(5),
    WRITE_ZEROES(6),
    BLOCK_STATUS(7),
    UNKNOWN(-1);

    private static final Command[] BY_CODE = {READ, WRITE, DISC, FLUSH, TRIM, CACHE, WRITE_ZEROES, BLOCK_STATUS};

    public final int code;

    Command(int code) {
        this.code = code;
    }

    public static Command of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : UNKNOWN;
    }

    /** Changes the export's contents: refused on a read-only export. */
    public boolean changesExport() {
        return this == WRITE || this == TRIM || this == WRITE_ZEROES;
    }

    /** Writes data (zeros too): a range past the end of the export is ENOSPC, not EINVAL. */
    public boolean writesData() {
        return this == WRITE || this == WRITE_ZEROES;
    }
}

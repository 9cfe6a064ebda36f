package cgw.nbd.export;

/** A meta context query names something the export cannot answer for; the message says what. */
public final class MetaContextRefusedException extends RuntimeException {
    public MetaContextRefusedException(String message) {
        super(message);
    }
}

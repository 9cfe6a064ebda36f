package cgw.nbd.export;

/** The export asked for does not exist (any more). */
public class ExportNotFoundException extends RuntimeException {
    public ExportNotFoundException(String message) {
        super(message);
    }
}

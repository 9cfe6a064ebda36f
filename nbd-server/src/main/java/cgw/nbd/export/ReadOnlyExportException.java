package cgw.nbd.export;

/** A write, trim or write-zeroes reached a read-only export. */
public class ReadOnlyExportException extends RuntimeException {
    public ReadOnlyExportException(String message) {
        super(message);
    }
}

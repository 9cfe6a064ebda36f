package cgw.store;

/** A request reaches past the end of the volume. */
public class OutOfRangeException extends StoreException {
    public OutOfRangeException(String message) {
        super(message);
    }
}

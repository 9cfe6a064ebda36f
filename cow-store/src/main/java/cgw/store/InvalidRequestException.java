package cgw.store;

/** A request the store refuses as malformed: a bad name, size or length. */
public class InvalidRequestException extends StoreException {
    public InvalidRequestException(String message) {
        super(message);
    }
}

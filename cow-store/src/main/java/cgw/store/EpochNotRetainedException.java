package cgw.store;

/** The epoch asked for is not retained (never cut, or already released). */
public class EpochNotRetainedException extends StoreException {
    public EpochNotRetainedException(String message) {
        super(message);
    }
}

package cgw.store;

/** The volume cannot be deleted now: clones depend on it, or it is attached. */
public class VolumeInUseException extends StoreException {
    public VolumeInUseException(String message) {
        super(message);
    }
}

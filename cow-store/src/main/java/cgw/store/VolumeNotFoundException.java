package cgw.store;

/** No volume of that name (or the handle's volume was deleted). */
public class VolumeNotFoundException extends StoreException {
    public VolumeNotFoundException(String message) {
        super(message);
    }
}

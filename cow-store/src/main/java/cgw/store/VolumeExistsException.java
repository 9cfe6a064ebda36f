package cgw.store;

/** A volume of that name already exists. */
public class VolumeExistsException extends StoreException {
    public VolumeExistsException(String message) {
        super(message);
    }
}

package cgw.replication;

import cgw.barrier.ConflictException;

/**
 * The epoch a primary is sending is not open on the replica any more (the replica restarted, was
 * promoted, or abandoned it), or its base is gone: a 409 the primary answers by beginning again
 * from a fresh hello, unlike the 409s of fencing, which stop it.
 */
public class EpochLostException extends ConflictException {
    public EpochLostException(String message) {
        super(message);
    }
}

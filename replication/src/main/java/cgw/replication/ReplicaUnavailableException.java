package cgw.replication;

import cgw.barrier.BarrierException;

/** The replica could not be reached or failed a call the caller waits for (a demote's final epoch): 503. */
public class ReplicaUnavailableException extends BarrierException {
    public ReplicaUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}

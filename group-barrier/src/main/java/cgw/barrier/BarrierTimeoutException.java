package cgw.barrier;

/**
 * The barrier started but could not complete within the request's timeout (the old epoch's
 * writes did not finish, the lease ran out). Nothing was published; held I/O was released.
 */
public class BarrierTimeoutException extends BarrierException {
    public BarrierTimeoutException(String message) {
        super(message);
    }

    public BarrierTimeoutException(String message, Throwable cause) {
        super(message, cause);
    }
}

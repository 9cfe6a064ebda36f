package cgw.barrier;

/**
 * The barrier could not start within the request's timeout: other barriers held some of its
 * volumes all along. Nothing was cut and no I/O was held.
 */
public class BarrierBusyException extends BarrierException {
    public BarrierBusyException(String message) {
        super(message);
    }
}

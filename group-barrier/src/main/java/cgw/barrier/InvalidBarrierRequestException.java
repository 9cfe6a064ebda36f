package cgw.barrier;

/** A malformed request: a bad group name, an empty or repeated volume list, a bad timeout. */
public class InvalidBarrierRequestException extends BarrierException {
    public InvalidBarrierRequestException(String message) {
        super(message);
    }
}

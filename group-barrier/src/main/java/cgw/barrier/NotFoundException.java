package cgw.barrier;

/** No group or snapshot of that name or id. */
public class NotFoundException extends BarrierException {
    public NotFoundException(String message) {
        super(message);
    }
}

package cgw.barrier;

/**
 * The request clashes with the catalog: a group that exists, a volume already in another group,
 * a volume that snapshots or a group still refer to.
 */
public class ConflictException extends BarrierException {
    public ConflictException(String message) {
        super(message);
    }
}

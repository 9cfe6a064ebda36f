package cgw.barrier;

/**
 * Base of the group barrier's refusals. Each subclass names what the caller should do: fix the
 * request ({@link InvalidBarrierRequestException}), look for something else
 * ({@link NotFoundException}), resolve a conflict ({@link ConflictException}), or retry later
 * ({@link BarrierBusyException}, {@link BarrierTimeoutException}).
 */
public class BarrierException extends RuntimeException {
    public BarrierException(String message) {
        super(message);
    }

    public BarrierException(String message, Throwable cause) {
        super(message, cause);
    }
}

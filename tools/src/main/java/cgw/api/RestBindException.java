package cgw.api;

/** The REST listener could not bind its address (in use, not local, not resolvable). */
public final class RestBindException extends RuntimeException {
    public RestBindException(String message, Throwable cause) {
        super(message, cause);
    }
}

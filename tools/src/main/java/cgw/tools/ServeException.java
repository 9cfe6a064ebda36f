package cgw.tools;

/**
 * The gateway cannot start or stop cleanly for a reason the operator can act on (a locked data
 * directory, a port in use, an unreadable token file). Its message is printed as the one-line
 * error; the cause, when there is one, goes to the debug log.
 */
public final class ServeException extends RuntimeException {
    public ServeException(String message) {
        super(message);
    }

    public ServeException(String message, Throwable cause) {
        super(message, cause);
    }
}

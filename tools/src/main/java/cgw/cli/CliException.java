package cgw.cli;

/**
 * A client command failed for a reason the user can act on: the server refused the request, it
 * cannot be reached, the token cannot be read. Its message is the one-line error {@code cgw}
 * prints (after {@code "cgw: "}); the cause, when there is one, goes to the debug log.
 */
public final class CliException extends RuntimeException {
    public CliException(String message) {
        super(message);
    }

    public CliException(String message, Throwable cause) {
        super(message, cause);
    }
}

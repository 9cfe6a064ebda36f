package cgw.tools;

/**
 * A running protocol listener of the gateway (REST today, NBD next): the line it prints when it
 * listens, and the server to close before the store. Immutable; owned by {@link Gateway}.
 */
record Frontend(String listeningLine, AutoCloseable server) {
}

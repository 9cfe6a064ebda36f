package cgw.tools;

import java.net.InetSocketAddress;
import java.util.regex.Pattern;

/**
 * A listening address as typed on the command line: {@code HOST:PORT}, with an IPv6 host in
 * brackets ({@code [::1]:10810}); port 0 asks for any free port. Immutable. Parsing never
 * resolves the host: that happens when a listener binds it.
 */
public record HostPort(String host, int port) {
    private static final Pattern HOST_NAME = Pattern.compile("[A-Za-z0-9._-]+");
    private static final Pattern IPV6 = Pattern.compile("[0-9A-Fa-f:.]+(%[A-Za-z0-9._-]+)?");
    private static final Pattern PORT = Pattern.compile("[0-9]{1,5}");
    private static final int MAX_PORT = 65_535;

    /** Parses {@code HOST:PORT}; the exception's message says what is wrong, for the user. */
    public static HostPort parse(String text) {
        String host;
        String port;
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0 || close + 1 >= text.length() || text.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("expected [IPV6]:PORT, like [::1]:10810, got '" + text + "'");
            }
            host = text.substring(1, close);
            port = text.substring(close + 2);
            if (!IPV6.matcher(host).matches()) {
                throw new IllegalArgumentException("'" + host + "' in '" + text + "' is not an IPv6 address");
            }
        } else {
            int colon = text.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("expected HOST:PORT, like 127.0.0.1:10810, got '" + text + "'");
            }
            host = text.substring(0, colon);
            port = text.substring(colon + 1);
            if (host.contains(":")) {
                throw new IllegalArgumentException(
                        "put an IPv6 host in brackets, like [::1]:10810, got '" + text + "'");
            }
            if (host.isEmpty()) {
                throw new IllegalArgumentException("missing host in '" + text
                        + "'; use 127.0.0.1 for this machine only or 0.0.0.0 for every interface");
            }
            if (!HOST_NAME.matcher(host).matches()) {
                throw new IllegalArgumentException(
                        "'" + host + "' in '" + text + "' is not a host name or IPv4 address");
            }
        }
        if (!PORT.matcher(port).matches() || Integer.parseInt(port) > MAX_PORT) {
            throw new IllegalArgumentException("port must be a number from 0 to " + MAX_PORT + ", got '" + port
                    + "' in '" + text + "'");
        }
        return new HostPort(host, Integer.parseInt(port));
    }

    /** The address a listener actually bound, as the user would write it. */
    public static HostPort of(InetSocketAddress bound) {
        return new HostPort(bound.getAddress() == null ? bound.getHostString() : bound.getAddress().getHostAddress(),
                bound.getPort());
    }

    /** The address to bind; resolves a host name. */
    public InetSocketAddress socketAddress() {
        return new InetSocketAddress(host, port);
    }

    @Override
    public String toString() {
        return host.contains(":") ? "[" + host + "]:" + port : host + ":" + port;
    }
}

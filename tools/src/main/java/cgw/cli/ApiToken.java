package cgw.cli;

import java.util.regex.Pattern;

/**
 * The bearer token a client command sends, and where it came from (a file, or {@code CGW_TOKEN})
 * so that a 401 can say which token was wrong. Immutable. Its {@code toString} hides the value:
 * the token is never printed or logged.
 *
 * @param value  the token itself
 * @param origin "CGW_TOKEN" or the file it was read from, for messages
 */
record ApiToken(String value, String origin) {
    /** What an HTTP header can carry: visible ASCII, no spaces. */
    private static final Pattern HEADER_SAFE = Pattern.compile("[\\x21-\\x7e]+");

    ApiToken {
        if (!HEADER_SAFE.matcher(value).matches()) {
            throw new CliException("the API token from " + origin
                    + (value.isEmpty() ? " is empty" : " has characters other than visible ASCII"));
        }
    }

    @Override
    public String toString() {
        return "ApiToken[from " + origin + "]";
    }
}

package cgw.store;

import java.util.regex.Pattern;

/**
 * The one rule for the names of volumes and groups: 1 to 64 of {@code A-Z a-z 0-9 . _ -}, and
 * neither {@code .} nor {@code ..}. A name is a URL path segment of the API and part of NBD export
 * names (where {@code @} separates a snapshot id), so it carries none of {@code / @ %} or spaces.
 *
 * <p>Threads: any; stateless.
 */
public final class Names {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    private Names() {
    }

    public static boolean isValid(String name) {
        return name != null && NAME.matcher(name).matches() && !name.equals(".") && !name.equals("..");
    }

    /** Why {@code name} is refused as the name of a {@code kind} ("volume", "group"), for the caller's exception. */
    public static String refusal(String kind, String name) {
        return "invalid " + kind + " name " + (name == null ? "null" : "'" + name + "'")
                + ": use 1 to 64 of A-Z a-z 0-9 . _ -";
    }

    /** Throws {@link InvalidRequestException} unless {@code name} is a valid name of a {@code kind}. */
    public static void check(String kind, String name) {
        if (!isValid(name)) {
            throw new InvalidRequestException(refusal(kind, name));
        }
    }
}

package cgw.api;

import java.math.BigDecimal;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses the sizes people type: {@code "4096"}, {@code "4GiB"}, {@code "1.5 TiB"}, {@code "10G"}.
 * Binary units (K, KiB, M, MiB, ... P, PiB) are powers of 1024, decimal ones (KB, MB, GB, TB, PB)
 * powers of 1000. Stateless and safe from any thread; it never rounds: a fraction that is not a
 * whole number of bytes, a negative value or one past {@link Long#MAX_VALUE} is refused.
 */
public final class ByteSize {
    /** Longer inputs are refused before any arithmetic, so a huge number costs nothing. */
    private static final int MAX_TEXT_LENGTH = 64;
    private static final Pattern SIZE = Pattern.compile("\\s*([0-9]+(?:\\.[0-9]+)?)\\s*([A-Za-z]*)\\s*");
    private static final BigDecimal MAX_BYTES = BigDecimal.valueOf(Long.MAX_VALUE);
    private static final String UNITS = "B, K, KiB, M, MiB, G, GiB, T, TiB, P, PiB (powers of 1024) "
            + "or KB, MB, GB, TB, PB (powers of 1000)";
    private static final Map<String, Long> MULTIPLIERS = Map.ofEntries(
            Map.entry("", 1L), Map.entry("B", 1L),
            Map.entry("K", 1L << 10), Map.entry("KiB", 1L << 10),
            Map.entry("M", 1L << 20), Map.entry("MiB", 1L << 20),
            Map.entry("G", 1L << 30), Map.entry("GiB", 1L << 30),
            Map.entry("T", 1L << 40), Map.entry("TiB", 1L << 40),
            Map.entry("P", 1L << 50), Map.entry("PiB", 1L << 50),
            Map.entry("KB", 1_000L), Map.entry("MB", 1_000_000L), Map.entry("GB", 1_000_000_000L),
            Map.entry("TB", 1_000_000_000_000L), Map.entry("PB", 1_000_000_000_000_000L));

    private ByteSize() {
    }

    /**
     * The number of bytes {@code text} stands for.
     *
     * @throws IllegalArgumentException saying what is wrong with it, without repeating the text
     */
    public static long parseBytes(String text) {
        if (text.length() > MAX_TEXT_LENGTH) {
            throw new IllegalArgumentException("longer than " + MAX_TEXT_LENGTH + " characters");
        }
        if (text.strip().startsWith("-")) {
            throw new IllegalArgumentException("a size cannot be negative");
        }
        Matcher matcher = SIZE.matcher(text);
        if (!matcher.matches()) {
            throw new IllegalArgumentException(
                    "expected a number of bytes or a number and a unit, like 4096, 512MiB or 4GiB");
        }
        Long multiplier = MULTIPLIERS.get(matcher.group(2));
        if (multiplier == null) {
            throw new IllegalArgumentException("unknown unit '" + matcher.group(2) + "'; use " + UNITS);
        }
        BigDecimal bytes = new BigDecimal(matcher.group(1)).multiply(BigDecimal.valueOf(multiplier));
        if (bytes.compareTo(MAX_BYTES) > 0) {
            throw new IllegalArgumentException("larger than " + Long.MAX_VALUE + " bytes");
        }
        if (bytes.stripTrailingZeros().scale() > 0) {
            throw new IllegalArgumentException("not a whole number of bytes (" + bytes.toPlainString() + ")");
        }
        return bytes.longValueExact();
    }
}

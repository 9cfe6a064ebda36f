package cgw.tools.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** One scrape in the Prometheus text format 0.0.4, read back into series and values for checks. */
public final class Scrape {
    private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*(?:\\{[^}]*})?) (\\S+)");
    private static final Pattern LE = Pattern.compile("le=\"([^\"]+)\"");

    /** Series as printed (labels sorted by name) to value. */
    private final Map<String, Double> values = new LinkedHashMap<>();
    private final String text;

    public Scrape(String text) {
        this.text = text;
        for (String line : text.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            Matcher sample = SAMPLE.matcher(line);
            assertThat(sample.matches()).as("a sample line: " + line).isTrue();
            assertThat(values.put(sample.group(1), Double.parseDouble(sample.group(2)))).as("twice: " + line).isNull();
        }
    }

    /** {@code name{k1="v1",k2="v2"}} from {@code name, k1, v1, k2, v2}: labels sorted by name, then {@code le}. */
    public static String series(String name, String... labels) {
        if (labels.length == 0) {
            return name;
        }
        StringBuilder series = new StringBuilder(name).append('{');
        for (int i = 0; i < labels.length; i += 2) {
            series.append(i == 0 ? "" : ",").append(labels[i]).append("=\"").append(labels[i + 1]).append('"');
        }
        return series.append('}').toString();
    }

    /** The value of a series that must be there. */
    public double value(String name, String... labels) {
        String series = series(name, labels);
        assertThat(values).as(text).containsKey(series);
        return values.get(series);
    }

    public boolean has(String name, String... labels) {
        return values.containsKey(series(name, labels));
    }

    /** Whether any series mentions {@code fragment}, e.g. {@code volume="a"}. */
    public boolean mentions(String fragment) {
        return values.keySet().stream().anyMatch(series -> series.contains(fragment));
    }

    /** The buckets of a histogram without other labels: upper bound in seconds (+Inf last) to count. */
    public TreeMap<Double, Double> buckets(String histogram) {
        TreeMap<Double, Double> buckets = new TreeMap<>();
        values.forEach((series, value) -> {
            if (series.startsWith(histogram + "_bucket{")) {
                Matcher le = LE.matcher(series);
                assertThat(le.find()).isTrue();
                buckets.put(le.group(1).equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le.group(1)),
                        value);
            }
        });
        return buckets;
    }

    @Override
    public String toString() {
        return text;
    }
}

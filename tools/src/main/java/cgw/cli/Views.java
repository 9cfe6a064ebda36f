package cgw.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;

/**
 * The tables the client commands print for the API's nouns, and the cell formats they share:
 * sizes in binary units ("4.0 GiB"), times to the second in UTC, "-" for an absent value.
 * Stateless. A field the server left out shows as "-" rather than failing the command.
 */
final class Views {
    private static final String ABSENT = "-";
    private static final String[] BINARY_UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

    private Views() {
    }

    /** The array under {@code field} of a list answer such as {@code {"volumes":[...]}}. */
    static List<JsonNode> items(JsonNode reply, String field) {
        JsonNode items = reply.path(field);
        if (!items.isArray()) {
            throw new CliException("the server's answer has no '" + field + "' list: " + reply);
        }
        List<JsonNode> list = new ArrayList<>(items.size());
        items.forEach(list::add);
        return list;
    }

    static Table volumes(List<JsonNode> volumes) {
        Table table = new Table("NAME", "SIZE", "ALLOCATED", "GROUP", "CONN", "CREATED", "PARENT");
        for (JsonNode volume : volumes) {
            table.row(text(volume, "name"), size(volume.path("size")), size(volume.path("allocated")),
                    text(volume, "group"), text(volume, "connections"), time(volume.path("createdAt")),
                    text(volume, "parent"));
        }
        return table;
    }

    /** A backup job: what it does, where, and how far it got. */
    static Table jobs(List<JsonNode> jobs) {
        Table table = new Table("ID", "KIND", "STATE", "SNAPSHOT", "REPOSITORY", "DONE", "TOTAL", "ERROR");
        for (JsonNode job : jobs) {
            String repository = job.hasNonNull("target") ? text(job, "target") : text(job, "source");
            table.row(text(job, "id"), text(job, "kind"), text(job, "state"), text(job, "snapshot"), repository,
                    size(job.path("bytesDone")), size(job.path("bytesTotal")), text(job, "error"));
        }
        return table;
    }

    static Table groups(List<JsonNode> groups) {
        Table table = new Table("NAME", "VOLUMES");
        for (JsonNode group : groups) {
            table.row(text(group, "name"), names(group.path("volumes")));
        }
        return table;
    }

    /** Replication statuses: who ships where, how far behind. */
    static Table replication(List<JsonNode> statuses) {
        Table table = new Table("GROUP", "ROLE", "STATE", "TARGET", "INTERVAL", "LAST", "LAG", "SHIPPED", "GENERATION",
                "ERROR");
        for (JsonNode status : statuses) {
            JsonNode interval = status.path("intervalMs");
            JsonNode lag = status.path("lagMs");
            table.row(text(status, "group"), text(status, "role"), text(status, "state"), text(status, "target"),
                    interval.isIntegralNumber() ? micros(interval.asLong() * 1000) : ABSENT,
                    text(status, "lastSnapshot"),
                    lag.isIntegralNumber() ? micros(lag.asLong() * 1000) : ABSENT, size(status.path("bytesShipped")),
                    text(status, "generation"), text(status, "error"));
        }
        return table;
    }

    static Table snapshots(List<JsonNode> snapshots) {
        Table table = new Table("ID", "GROUP", "LABEL", "CREATED", "VOLUMES", "FREEZE");
        for (JsonNode snapshot : snapshots) {
            table.row(text(snapshot, "id"), text(snapshot, "group"), text(snapshot, "label"),
                    time(snapshot.path("createdAt")), names(snapshot.path("volumes")),
                    micros(snapshot.path("freezeMicros")));
        }
        return table;
    }

    /** The answer to a clone, {@code {"volumes":{"old":"new",...}}}, in the server's order. */
    static Table clones(JsonNode reply) {
        JsonNode volumes = reply.path("volumes");
        if (!volumes.isObject()) {
            throw new CliException("the server's answer has no 'volumes' map: " + reply);
        }
        Table table = new Table("OLD", "NEW");
        for (Map.Entry<String, JsonNode> clone : volumes.properties()) {
            table.row(clone.getKey(), clone.getValue().asText());
        }
        return table;
    }

    /** {@code bytes} in the largest binary unit it reaches, one decimal: "512 B", "1.5 KiB", "4.0 GiB". */
    static String size(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        int unit = 0;
        double value = bytes;
        while (value >= 1024 - 0.05 && unit < BINARY_UNITS.length - 1) { // 1023.96 KiB shows as 1.0 MiB
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, BINARY_UNITS[unit]);
    }

    private static String size(JsonNode bytes) {
        return bytes.isIntegralNumber() ? size(bytes.asLong()) : text(bytes);
    }

    /** A freeze time: "180 us", "2.5 ms", "1.2 s". */
    static String micros(long micros) {
        if (micros < 1_000) {
            return micros + " us";
        }
        if (micros < 999_950) { // 999.96 ms shows as 1.0 s
            return String.format(Locale.ROOT, "%.1f ms", micros / 1e3);
        }
        return String.format(Locale.ROOT, "%.1f s", micros / 1e6);
    }

    private static String micros(JsonNode micros) {
        return micros.isIntegralNumber() ? micros(micros.asLong()) : text(micros);
    }

    /** An ISO-8601 instant to the second ("2026-11-25T16:00:00Z"); text that is not one, as it is. */
    private static String time(JsonNode instant) {
        try {
            return Instant.parse(instant.asText()).truncatedTo(ChronoUnit.SECONDS).toString();
        } catch (DateTimeParseException e) {
            return text(instant);
        }
    }

    private static String names(JsonNode names) {
        if (!names.isArray()) {
            return text(names);
        }
        String joined = StreamSupport.stream(names.spliterator(), false).map(JsonNode::asText)
                .collect(Collectors.joining(","));
        return joined.isEmpty() ? ABSENT : joined;
    }

    private static String text(JsonNode node, String field) {
        return text(node.path(field));
    }

    private static String text(JsonNode value) {
        return value.isMissingNode() || value.isNull() ? ABSENT : value.asText();
    }
}

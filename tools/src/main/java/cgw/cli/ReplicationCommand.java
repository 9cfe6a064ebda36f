package cgw.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code cgw replication start|status|stop}: shipping a group to a replica gateway, through
 * {@code /v1/groups/{name}/replication} (CONTRACT.md v2, "Replication").
 */
@Command(name = "replication", description = "Ship a group to a replica gateway, show how far it is, stop it.", subcommands = {
        ReplicationCommand.Start.class, ReplicationCommand.Status.class, ReplicationCommand.Stop.class})
public final class ReplicationCommand extends CommandGroup {
    /** The body of {@code PUT /v1/groups/{name}/replication}. */
    record StartBody(String target, String targetToken, String targetCaCert, Long intervalMs, Integer keep,
            Long bandwidthBytesPerSec) {
    }

    static String path(String group) {
        return GroupCommand.groupPath(group) + "/replication";
    }

    /** A command answered with a replication status. */
    abstract static class OneStatus extends ClientCommand {
        @Parameters(index = "0", paramLabel = "GROUP", description = "The group")
        String group;

        @Override
        Table table(JsonNode reply) {
            return Views.replication(List.of(reply));
        }
    }

    @Command(name = "start", description = "Start shipping a group to a replica gateway, or change how.")
    static final class Start extends OneStatus {
        @Option(names = "--target", paramLabel = "URL", required = true, description = "The replica's REST URL, such as https://dr.example:10810")
        String target;

        @Option(names = "--target-token-file", paramLabel = "FILE", required = true, description = "The replica's API token file (its DATA/api-token)")
        Path targetTokenFile;

        @Option(names = "--target-ca", paramLabel = "FILE", description = "PEM of the CA that signed the replica's certificate (its DATA/tls/ca-cert.pem)")
        Path targetCa;

        @Option(names = "--interval", paramLabel = "TIME", converter = IntervalConverter.class, description = "How often an epoch is cut and shipped: 200ms, 1s, 5m (default: 1s, at least 100ms)")
        Long intervalMs;

        @Option(names = "--keep", paramLabel = "N", description = "Replicated snapshots each side keeps (default: 10)")
        Integer keep;

        @Option(names = "--bandwidth", paramLabel = "SIZE", converter = VolumeCommand.SizeConverter.class, description = "Most bytes shipped per second, such as 100MiB (default: no limit)")
        Long bandwidth;

        @Override
        JsonNode send(GatewayClient gateway) {
            String token = new String(ClientOptions.read(targetTokenFile, "the replica's token file", ""),
                    StandardCharsets.US_ASCII).strip();
            String ca = targetCa == null
                    ? null
                    : new String(ClientOptions.read(targetCa, "the replica's CA certificate file", ""),
                            StandardCharsets.US_ASCII);
            return gateway.put(path(group), new StartBody(target, token, ca, intervalMs, keep, bandwidth));
        }
    }

    @Command(name = "status", description = "Show a group's replication: role, state, lag, bytes shipped.")
    static final class Status extends OneStatus {
        @Override
        JsonNode send(GatewayClient gateway) {
            return gateway.get(path(group));
        }
    }

    @Command(name = "stop", description = "Stop shipping a group; the replica keeps what it has.")
    static final class Stop extends ClientCommand.Deletion {
        @Parameters(paramLabel = "GROUP", description = "The group")
        String group;

        @Override
        String path() {
            return ReplicationCommand.path(group);
        }
    }

    /** {@code --interval}: a number of ms, s, m or h, such as 200ms or 1s. */
    static final class IntervalConverter implements ITypeConverter<Long> {
        private static final Pattern TIME = Pattern.compile("([0-9]{1,9})(ms|s|m|h)");

        @Override
        public Long convert(String text) {
            Matcher matcher = TIME.matcher(text.trim().toLowerCase(Locale.ROOT));
            if (!matcher.matches()) {
                throw new TypeConversionException("'" + text + "' is not a time such as 200ms, 1s, 5m or 1h");
            }
            long value = Long.parseLong(matcher.group(1));
            return switch (matcher.group(2)) {
                case "ms" -> value;
                case "s" -> value * 1000;
                case "m" -> value * 60_000;
                default -> value * 3_600_000;
            };
        }
    }
}

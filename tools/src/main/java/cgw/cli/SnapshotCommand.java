package cgw.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;

/**
 * {@code cgw snapshot create|list|show|delete|clone}: crash-consistent snapshots of a group (or of
 * an ad-hoc set of volumes), through {@code /v1/snapshots} and {@code /v1/groups/{name}/snapshots}.
 */
@Command(name = "snapshot", description = "Take, list, delete and clone group snapshots.", subcommands = {
        SnapshotCommand.Create.class, SnapshotCommand.ListAll.class, SnapshotCommand.Show.class,
        SnapshotCommand.Delete.class, SnapshotCommand.Clone.class})
public final class SnapshotCommand extends CommandGroup {
    private static final String SNAPSHOTS = "/v1/snapshots";

    /** The body of {@code POST /v1/groups/{name}/snapshots} (no volumes) and {@code POST /v1/snapshots}. */
    record CreateBody(List<String> volumes, String label, Long timeoutMs) {
    }

    /** The body of {@code POST /v1/snapshots/{id}/clone}. */
    record CloneBody(String prefix) {
    }

    static String snapshotPath(long id) {
        return SNAPSHOTS + "/" + id;
    }

    /** A command answered with one snapshot. */
    abstract static class OneSnapshot extends ClientCommand {
        @Override
        Table table(JsonNode reply) {
            return Views.snapshots(List.of(reply));
        }
    }

    @Command(name = "create", description = "Snapshot a group, or the volumes given, at one consistent point.")
    static final class Create extends OneSnapshot {
        @Parameters(arity = "0..1", paramLabel = "GROUP", description = "The group to snapshot")
        String group;

        @Option(names = "--volumes", split = ",", paramLabel = "VOL", description = "Instead of a group: these volumes")
        List<String> volumes;

        @Option(names = "--label", paramLabel = "LABEL", description = "A label to find the snapshot by")
        String label;

        @Option(names = "--timeout-ms", paramLabel = "N", description = "How long the barrier may take before it gives up and publishes nothing (default: the gateway's, 10 s)")
        Long timeoutMs;

        @Override
        void checkArguments() {
            if ((group == null) == (volumes == null)) {
                throw new ParameterException(spec.commandLine(), group == null
                        ? "missing GROUP or --volumes VOL,VOL..."
                        : "give GROUP or --volumes, not both");
            }
        }

        @Override
        JsonNode send(GatewayClient gateway) {
            Duration serverWait = timeoutMs == null ? Duration.ZERO : Duration.ofMillis(timeoutMs);
            return group == null
                    ? gateway.post(SNAPSHOTS, new CreateBody(volumes, label, timeoutMs), serverWait)
                    : gateway.post(GroupCommand.groupPath(group) + "/snapshots", new CreateBody(null, label, timeoutMs),
                            serverWait);
        }
    }

    @Command(name = "list", description = "List the snapshots, oldest first, of every group or of one.")
    static final class ListAll extends ClientCommand.Listing {
        @Parameters(arity = "0..1", paramLabel = "GROUP", description = "Only this group's snapshots")
        String group;

        ListAll() {
            super(SNAPSHOTS, "snapshots", Views::snapshots);
        }

        @Override
        String path() {
            return group == null ? SNAPSHOTS : SNAPSHOTS + "?group=" + URLEncoder.encode(group, StandardCharsets.UTF_8);
        }
    }

    @Command(name = "show", description = "Show one snapshot.")
    static final class Show extends OneSnapshot {
        @Parameters(paramLabel = "ID")
        long id;

        @Override
        JsonNode send(GatewayClient gateway) {
            return gateway.get(snapshotPath(id));
        }
    }

    @Command(name = "delete", description = "Delete a snapshot; its space is reclaimed in the background.")
    static final class Delete extends ClientCommand.Deletion {
        @Parameters(paramLabel = "ID")
        long id;

        @Override
        String path() {
            return snapshotPath(id);
        }
    }

    @Command(name = "clone", description = "Make writable volumes named PREFIX+VOLUME from a snapshot.")
    static final class Clone extends ClientCommand {
        @Parameters(paramLabel = "ID")
        long id;

        @Option(names = "--prefix", paramLabel = "PREFIX", required = true, description = "Put before each volume's name")
        String prefix;

        @Override
        JsonNode send(GatewayClient gateway) {
            return gateway.post(snapshotPath(id) + "/clone", new CloneBody(prefix));
        }

        @Override
        Table table(JsonNode reply) {
            return Views.clones(reply);
        }
    }
}

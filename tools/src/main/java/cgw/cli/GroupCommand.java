package cgw.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code cgw group create|set|list|show|delete}: consistency groups, the sets of volumes a
 * snapshot cuts together, through {@code /v1/groups}.
 */
@Command(name = "group", description = "Create, change, list and delete consistency groups.", subcommands = {
        GroupCommand.Create.class, GroupCommand.Set.class, GroupCommand.ListAll.class,
        GroupCommand.Show.class, GroupCommand.Delete.class, GroupCommand.Demote.class, GroupCommand.Promote.class})
public final class GroupCommand extends CommandGroup {
    private static final String GROUPS = "/v1/groups";

    /** The body of {@code POST /v1/groups}. */
    record CreateBody(String name, List<String> volumes) {
    }

    /** The body of {@code PUT /v1/groups/{name}}. */
    record MembersBody(List<String> volumes) {
    }

    static String groupPath(String name) {
        return GROUPS + "/" + GatewayClient.segment(name);
    }

    /** A command answered with one group. */
    abstract static class OneGroup extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "The group's name")
        String name;

        @Override
        Table table(JsonNode reply) {
            return Views.groups(List.of(reply));
        }
    }

    /** A command that gives a group its volumes. */
    abstract static class Membership extends OneGroup {
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "VOL", description = "The group's volumes")
        List<String> volumes;
    }

    @Command(name = "create", description = "Create a group of volumes (a volume is in at most one group).")
    static final class Create extends Membership {
        @Override
        JsonNode send(GatewayClient gateway) {
            return gateway.post(GROUPS, new CreateBody(name, volumes));
        }
    }

    @Command(name = "set", description = "Make these volumes the group's members, in place of the ones it has.")
    static final class Set extends Membership {
        @Override
        JsonNode send(GatewayClient gateway) {
            return gateway.put(groupPath(name), new MembersBody(volumes));
        }
    }

    @Command(name = "show", description = "Show one group.")
    static final class Show extends OneGroup {
        @Override
        JsonNode send(GatewayClient gateway) {
            return gateway.get(groupPath(name));
        }
    }

    @Command(name = "list", description = "List the groups.")
    static final class ListAll extends ClientCommand.Listing {
        ListAll() {
            super(GROUPS, "groups", Views::groups);
        }
    }

    /** The optional body of {@code POST /v1/groups/{name}/promote}. */
    record PromoteBody(Long snapshot) {
    }

    @Command(name = "demote", description = "Planned failover, on the primary: make the group read-only, ship its last epoch, wait until the replica has it.")
    static final class Demote extends ClientCommand {
        @Parameters(index = "0", paramLabel = "NAME", description = "The group")
        String name;

        @Override
        JsonNode send(GatewayClient gateway) {
            return gateway.post(groupPath(name) + "/demote", java.util.Map.of());
        }

        @Override
        Table table(JsonNode reply) {
            return new Table("FINAL SNAPSHOT").row(reply.path("snapshot").asText());
        }
    }

    @Command(name = "promote", description = "Failover, on the replica: make the group writable at its newest complete epoch (or --snapshot).")
    static final class Promote extends OneGroup {
        @picocli.CommandLine.Option(names = "--snapshot", paramLabel = "ID", description = "An older replicated snapshot to promote at")
        Long snapshot;

        @Override
        JsonNode send(GatewayClient gateway) {
            return gateway.post(groupPath(name) + "/promote", new PromoteBody(snapshot));
        }
    }

    @Command(name = "delete", description = "Delete a group; its volumes and snapshots stay.")
    static final class Delete extends ClientCommand.NamedDeletion {
        Delete() {
            super(GROUPS);
        }
    }
}

package cgw.cli;

import cgw.api.ByteSize;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.TypeConversionException;

/** {@code cgw volume create|list|delete}: the gateway's volumes, through {@code /v1/volumes}. */
@Command(name = "volume", description = "Create, list and delete volumes.", subcommands = {VolumeCommand.Create.class,
        VolumeCommand.ListAll.class, VolumeCommand.Delete.class})
public final class VolumeCommand extends CommandGroup {
    private static final String VOLUMES = "/v1/volumes";

    /** The body of {@code POST /v1/volumes}. */
    record CreateBody(String name, long size) {
    }

    @Command(name = "create", description = "Create an empty volume.")
    static final class Create extends ClientCommand {
        @Parameters(paramLabel = "NAME", description = "The volume's name, also its NBD export name")
        String name;

        @Option(names = "--size", paramLabel = "SIZE", required = true, converter = SizeConverter.class, description = "Its size: bytes, or a number and a unit such as 512MiB, 4GiB, 1.5TiB or 10GB")
        long sizeBytes;

        @Override
        JsonNode send(GatewayClient gateway) {
            return gateway.post(VOLUMES, new CreateBody(name, sizeBytes));
        }

        @Override
        Table table(JsonNode reply) {
            return Views.volumes(List.of(reply));
        }
    }

    @Command(name = "list", description = "List the volumes.")
    static final class ListAll extends ClientCommand.Listing {
        ListAll() {
            super(VOLUMES, "volumes", Views::volumes);
        }
    }

    @Command(name = "delete", description = "Delete a volume and its data (refused while NBD clients have it open).")
    static final class Delete extends ClientCommand.NamedDeletion {
        Delete() {
            super(VOLUMES);
        }
    }

    /** {@code --size} as the API reads sizes, so that a typo is a usage error before any request. */
    static final class SizeConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String text) {
            try {
                return ByteSize.parseBytes(text);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}

package cgw.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cgw restore SOURCE ID --prefix P [--no-wait]}: a snapshot from a backup repository into new volumes. */
@Command(name = "restore", description = "Restore a snapshot from a backup repository into volumes named PREFIX+VOLUME.")
public final class RestoreCommand extends JobCommand.Starting {
    /** The body of {@code POST /v1/restores}. */
    record RestoreBody(String source, long snapshot, String prefix) {
    }

    @Parameters(index = "0", paramLabel = "SOURCE", description = "file:///absolute/dir or s3://bucket/prefix")
    String source;

    @Parameters(index = "1", paramLabel = "ID", description = "The snapshot in SOURCE")
    long id;

    @Option(names = "--prefix", paramLabel = "PREFIX", required = true, description = "Put before each volume's name")
    String prefix;

    @Option(names = "--no-wait", description = "Print the job and return at once")
    boolean noWait;

    @Override
    JsonNode start(GatewayClient gateway) {
        return gateway.post("/v1/restores", new RestoreBody(source, id, prefix));
    }

    @Override
    boolean noWait() {
        return noWait;
    }
}

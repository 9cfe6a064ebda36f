package cgw.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code cgw export ID TARGET [--incremental-from ID] [--no-wait]}: a snapshot into a backup repository. */
@Command(name = "export", description = "Export a snapshot to a backup repository (file:///DIR or s3://BUCKET/PREFIX).")
public final class ExportCommand extends JobCommand.Starting {
    /** The body of {@code POST /v1/snapshots/{id}/export}. */
    record ExportBody(String target, Long incrementalFrom) {
    }

    @Parameters(index = "0", paramLabel = "ID", description = "The snapshot")
    long id;

    @Parameters(index = "1", paramLabel = "TARGET", description = "file:///absolute/dir or s3://bucket/prefix")
    String target;

    @Option(names = "--incremental-from", paramLabel = "ID", description = "Store only what changed since this older snapshot, already in TARGET")
    Long incrementalFrom;

    @Option(names = "--no-wait", description = "Print the job and return at once")
    boolean noWait;

    @Override
    JsonNode start(GatewayClient gateway) {
        return gateway.post(SnapshotCommand.snapshotPath(id) + "/export", new ExportBody(target, incrementalFrom));
    }

    @Override
    boolean noWait() {
        return noWait;
    }
}

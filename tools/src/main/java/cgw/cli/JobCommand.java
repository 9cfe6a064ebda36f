package cgw.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code cgw job show ID}, and how {@code export} and {@code restore} wait for their job: they poll
 * {@code GET /v1/jobs/{id}} until it ends, drawing a progress bar on stderr when stderr is a
 * terminal, and fail with the job's error when it did not end {@code done}. Main thread only.
 */
@Command(name = "job", description = "Show backup jobs (exports and restores).", subcommands = {JobCommand.Show.class})
public final class JobCommand extends CommandGroup {
    /** How often a waiting command asks how its job is doing. */
    static final long POLL_INTERVAL_MS = 250;

    static String jobPath(long id) {
        return "/v1/jobs/" + id;
    }

    @Command(name = "show", description = "Show a job's state and progress.")
    static final class Show extends ClientCommand {
        @Parameters(paramLabel = "ID")
        long id;

        @Override
        JsonNode send(GatewayClient gateway) {
            return gateway.get(jobPath(id));
        }

        @Override
        Table table(JsonNode reply) {
            return Views.jobs(List.of(reply));
        }
    }

    /** A command that starts a job and, unless told not to, waits for it to end. */
    abstract static class Starting extends ClientCommand {
        /** Starts the job; the server's 202 answer, the job as it was then. */
        abstract JsonNode start(GatewayClient gateway);

        abstract boolean noWait();

        @Override
        final JsonNode send(GatewayClient gateway) {
            JsonNode job = start(gateway);
            return noWait() ? job : await(gateway, job);
        }

        @Override
        final Table table(JsonNode reply) {
            return Views.jobs(List.of(reply));
        }
    }

    /** Polls the job until it ends; its last view when {@code done}, else a {@link CliException} with its error. */
    static JsonNode await(GatewayClient gateway, JsonNode job) {
        long id = job.path("id").asLong();
        String task = job.path("kind").asText("job") + " of snapshot " + job.path("snapshot").asText();
        try (ProgressBar bar = System.console() == null ? null : progressBar(task)) {
            while (job.path("state").asText().equals("running")) {
                if (bar != null) {
                    bar.maxHint(job.path("bytesTotal").asLong());
                    bar.stepTo(job.path("bytesDone").asLong());
                }
                pause();
                job = gateway.get(jobPath(id));
            }
            if (bar != null && job.path("state").asText().equals("done")) {
                bar.stepTo(job.path("bytesTotal").asLong());
            }
        }
        String state = job.path("state").asText();
        if (!state.equals("done")) {
            throw new CliException("job " + id + " (" + task + ") ended " + state
                    + (job.hasNonNull("error") ? ": " + job.get("error").asText() : ""));
        }
        return job;
    }

    private static ProgressBar progressBar(String task) {
        return new ProgressBarBuilder().setTaskName(task).setStyle(ProgressBarStyle.ASCII).setUnit("MiB", 1 << 20)
                .showSpeed().continuousUpdate().build();
    }

    private static void pause() {
        try {
            Thread.sleep(POLL_INTERVAL_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted while waiting for the job; it goes on (cgw job show)", e);
        }
    }
}

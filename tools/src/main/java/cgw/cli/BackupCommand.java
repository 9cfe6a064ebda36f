package cgw.cli;

import cgw.backup.BackupException;
import cgw.backup.JobOptions;
import cgw.backup.KeySource;
import cgw.backup.PruneResult;
import cgw.backup.Pruner;
import cgw.backup.Repository;
import cgw.backup.RepositoryAccess;
import cgw.backup.Verifier;
import cgw.backup.VerifyReport;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code cgw backup verify|prune}: checks and trims a backup repository from this process, with
 * no gateway: the repository is opened with {@code --key-file} or {@code $CGW_BACKUP_PASSPHRASE}
 * and reached as {@code cgw serve} reaches it ({@code --s3-endpoint}, {@code --s3-path-style}).
 * Main thread; the verify's workers are the backup module's.
 */
@Command(name = "backup", description = "Verify or prune a backup repository (runs here, needs no gateway).", subcommands = {
        BackupCommand.Verify.class, BackupCommand.Prune.class})
public final class BackupCommand extends CommandGroup {
    /** What both verbs take: the repository, how to reach it, its key, and the output form. */
    @Command(sortOptions = false)
    abstract static class Local<R> implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "SOURCE", description = "file:///absolute/dir or s3://bucket/prefix")
        String source;

        @Option(names = "--key-file", paramLabel = "FILE", description = {"Key file of an encrypted repository",
                "(else the passphrase in $"
                        + RepositoryAccess.PASSPHRASE_VARIABLE + ")"})
        Path keyFile;

        @Mixin
        S3Options s3;

        @Option(names = "--json", description = "Print the report as JSON")
        boolean json;

        @Override
        public final Integer call() throws JsonProcessingException {
            KeySource key;
            try {
                key = RepositoryAccess.key(keyFile, System.getenv(RepositoryAccess.PASSPHRASE_VARIABLE));
            } catch (IllegalArgumentException e) {
                throw new CliException(e.getMessage(), e);
            }
            PrintWriter out = spec.commandLine().getOut();
            try (Repository repository = new RepositoryAccess(s3.settings(), key).open(source, false)) {
                R report = run(repository);
                if (json) {
                    out.println(GatewayClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(report));
                } else {
                    print(report, out);
                }
                out.flush();
                return exitCode(report);
            } catch (BackupException e) {
                throw new CliException(source + ": " + e.getMessage(), e);
            }
        }

        abstract R run(Repository repository);

        abstract void print(R report, PrintWriter out);

        int exitCode(R report) {
            return 0;
        }
    }

    @Command(name = "verify", description = "Read every manifest and chunk and check it; exit 1 when any is missing or corrupt.")
    static final class Verify extends Local<VerifyReport> {
        @Option(names = "--snapshot", paramLabel = "ID", description = "Only this snapshot's manifest and chunks")
        Long snapshot;

        @Override
        VerifyReport run(Repository repository) {
            Verifier verifier = new Verifier(repository, JobOptions.defaults());
            return snapshot == null ? verifier.verifyAll() : verifier.verifySnapshot(snapshot);
        }

        @Override
        void print(VerifyReport report, PrintWriter out) {
            out.printf("%d manifests, %d chunks (%s) checked, %d unreferenced chunks%n", report.manifestsChecked(),
                    report.chunksChecked(), Views.size(report.bytesChecked()), report.unreferencedChunks());
            if (report.clean()) {
                out.println("no problems found");
                return;
            }
            Table table = new Table("OBJECT", "PROBLEM", "SNAPSHOTS", "DETAIL");
            for (VerifyReport.Problem problem : report.problems()) {
                table.row(problem.objectKey(), problem.kind(), problem.snapshots().toString(), problem.detail());
            }
            table.print(out);
        }

        @Override
        int exitCode(VerifyReport report) {
            return report.clean() ? 0 : 1;
        }
    }

    @Command(name = "prune", description = "Keep the newest N snapshots; delete the others and the chunks only they used.")
    static final class Prune extends Local<PruneResult> {
        @Option(names = "--keep-last", paramLabel = "N", required = true, description = "Snapshots to keep (at least 1)")
        int keepLast;

        @Override
        PruneResult run(Repository repository) {
            if (keepLast < 1) {
                throw new CliException("--keep-last must be at least 1, got " + keepLast);
            }
            return new Pruner(repository).keepLast(keepLast);
        }

        @Override
        void print(PruneResult prune, PrintWriter out) {
            out.printf("kept %s, deleted %s, %d chunks deleted%n", prune.keptSnapshots(), prune.deletedSnapshots(),
                    prune.chunksDeleted());
        }
    }
}

package cgw.tools;

import cgw.cli.BackupCommand;
import cgw.cli.CliException;
import cgw.cli.ClientEnvironment;
import cgw.cli.ClientOptions;
import cgw.cli.ExportCommand;
import cgw.cli.GroupCommand;
import cgw.cli.JobCommand;
import cgw.cli.ReplicationCommand;
import cgw.cli.RestoreCommand;
import cgw.cli.SnapshotCommand;
import cgw.cli.VolumeCommand;
import java.io.PrintWriter;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code cgw} program: parses the command line, applies {@code --log-level}, runs one
 * subcommand and exits with its code (0 done, 1 failed, 2 bad usage). Each subcommand is its own
 * class listed below. Runs on the main thread; failures end here as one line on stderr.
 */
@Command(name = "cgw", sortOptions = false, description = "Consistency-group gateway: VM disks over NBD from a copy-on-write block store.", subcommands = {
        ServeCommand.class, VolumeCommand.class, GroupCommand.class, SnapshotCommand.class,
        ExportCommand.class, RestoreCommand.class, JobCommand.class, BackupCommand.class, ReplicationCommand.class,
        TlsCommand.class})
public final class Main implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(Main.class);
    static final String LOG_LEVEL = "--log-level";
    public static final int FAILED = 1;
    public static final int USAGE = 2;

    @Spec
    CommandSpec spec;

    /** Declares the option for help and parsing; its value is read from the parse result, deepest command first. */
    @Option(names = LOG_LEVEL, paramLabel = "LEVEL", defaultValue = "warn", scope = ScopeType.INHERIT, description = "Log detail on stderr: error, warn, info, debug or trace (default: ${DEFAULT-VALUE})")
    LogLevel logLevel;

    @Option(names = {"-h", "--help"}, usageHelp = true, scope = ScopeType.INHERIT, description = "Show this help.")
    boolean help;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line; tests run it as {@code main} does, minus the exit. */
    public static CommandLine commandLine() {
        return commandLine(ClientEnvironment.ofProcess());
    }

    /** As {@link #commandLine()}, with the client commands reading {@code environment} instead of the process's. */
    public static CommandLine commandLine(ClientEnvironment environment) {
        CommandLine cli = new CommandLine(new Main(), ClientOptions.factory(environment));
        cli.registerConverter(HostPort.class, text -> converted(HostPort::parse, text));
        cli.registerConverter(LogLevel.class, text -> converted(LogLevel::parse, text));
        cli.setExecutionStrategy(parseResult -> {
            logLevel(parseResult).apply();
            return new CommandLine.RunLast().execute(parseResult);
        });
        cli.setParameterExceptionHandler(Main::usageError);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> failure(e, commandLine));
        return cli;
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing command (try 'cgw serve')");
    }

    /** The level given on the deepest command that has one, else the default. */
    private static LogLevel logLevel(ParseResult parseResult) {
        LogLevel level = LogLevel.WARN;
        for (ParseResult result = parseResult; result != null; result = result.subcommand()) {
            level = result.matchedOptionValue(LOG_LEVEL, level);
        }
        return level;
    }

    /** Runs a parser whose exception message is meant for the user, as picocli expects. */
    private static <T> T converted(Function<String, T> parser, String text) {
        try {
            return parser.apply(text);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }

    private static int usageError(ParameterException e, String[] args) {
        PrintWriter err = e.getCommandLine().getErr();
        err.println("cgw: " + e.getMessage());
        err.println("Try '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help'.");
        err.flush();
        return USAGE;
    }

    private static int failure(Exception e, CommandLine commandLine) {
        PrintWriter err = commandLine.getErr();
        if (e instanceof ServeException || e instanceof CliException) {
            log.debug("command failed", e);
            err.println("cgw: " + e.getMessage());
        } else {
            log.error("command failed unexpectedly", e);
            err.println("cgw: unexpected failure: " + e);
        }
        err.flush();
        return FAILED;
    }
}

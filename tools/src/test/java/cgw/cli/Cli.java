package cgw.cli;

import cgw.tools.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import picocli.CommandLine;

/**
 * Runs {@code cgw} as {@code main} does, minus the exit, with its own environment variables and
 * working directory, and captures what a user would see on stdout and stderr.
 */
final class Cli {
    /** What one run printed and returned. */
    record Result(int exitCode, String out, String err) {
        /** The output's lines, for table assertions. */
        String[] lines() {
            return out.split("\n");
        }
    }

    private final Map<String, String> variables = new HashMap<>();
    private final Path workingDir;

    Cli(Path workingDir) {
        this.workingDir = workingDir;
    }

    Cli env(String name, String value) {
        variables.put(name, value);
        return this;
    }

    Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Main.commandLine(new ClientEnvironment(variables::get, workingDir));
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exitCode = cli.execute(args);
        return new Result(exitCode, out.toString(), err.toString());
    }
}

package cgw.tools;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The command line as {@code main} runs it, without the exit and without serving. */
class MainTest {
    @TempDir
    Path dir;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cli = Main.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void badAddressesAreUsageErrorsNamingTheOption() {
        assertThat(run("serve", "--http", "127.0.0.1")).isEqualTo(Main.USAGE);
        assertThat(err.toString()).startsWith("cgw: Invalid value for option '--http': expected HOST:PORT, like "
                + "127.0.0.1:10810, got '127.0.0.1'");
    }

    @Test
    void nbdAndRestCannotShareAPort() {
        assertThat(run("serve", "--nbd", "127.0.0.1:7000", "--http", "127.0.0.1:7000")).isEqualTo(Main.USAGE);
        assertThat(err.toString()).startsWith("cgw: --nbd and --http both ask for 127.0.0.1:7000");
    }

    @Test
    void nbdSocketNeedsAnExistingDirectory() {
        assertThat(run("serve", "--nbd-socket", dir.resolve("missing/nbd.sock").toString())).isEqualTo(Main.USAGE);
        assertThat(err.toString()).contains("directory " + dir.resolve("missing") + " does not exist");
    }

    @Test
    void backupRootsMustBeDirectories() {
        assertThat(run("serve", "--backup-root", dir.toString(), "--backup-root", dir.resolve("missing").toString()))
                .isEqualTo(Main.USAGE);
        assertThat(err.toString()).startsWith("cgw: --backup-root " + dir.resolve("missing") + " is not a directory");
    }

    @Test
    void logLevelIsCheckedOnEitherSideOfTheCommand() {
        assertThat(run("--log-level", "loud", "serve")).isEqualTo(Main.USAGE);
        assertThat(err.toString()).contains("expected error, warn, info, debug or trace, got 'loud'");
        assertThat(run("serve", "--log-level", "loud")).isEqualTo(Main.USAGE);
    }

    @Test
    void noCommandIsAUsageError() {
        assertThat(run()).isEqualTo(Main.USAGE);
        assertThat(err.toString()).startsWith("cgw: missing command (try 'cgw serve')");
    }
}

package cgw.cli;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.tools.Main;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the CLI against a real REST server on a real store ({@link RestGateway}) in {@code dir}:
 * {@link #cli} works in {@code dir}, so its token comes from {@code ./cgw-data/api-token}, and
 * finds the server through {@code CGW_URL}.
 */
@Timeout(60) // a hung exchange fails the test instead of the build
abstract class RealGatewayTest {
    /** A CREATED cell: an instant to the second, in UTC. */
    static final String TIME = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ";

    @TempDir
    Path dir;

    RestGateway gateway;
    Cli cli;

    @BeforeEach
    void startGateway() throws Exception {
        gateway = RestGateway.http(dir);
        cli = new Cli(dir).env("CGW_URL", gateway.url());
    }

    @AfterEach
    void stopGateway() {
        gateway.close();
    }

    /** A failure told in exactly {@code line}, on stderr, with exit code 1 and nothing on stdout. */
    static void assertFailure(Cli.Result result, String line) {
        assertThat(result.exitCode()).isEqualTo(Main.FAILED);
        assertThat(result.err()).isEqualTo(line + "\n");
        assertThat(result.out()).isEmpty();
    }

    /** A failure told in one line that starts with {@code start}. */
    static void assertFailureStartsWith(Cli.Result result, String start) {
        assertThat(result.exitCode()).isEqualTo(Main.FAILED);
        assertThat(result.err()).startsWith(start).endsWith("\n").hasLineCount(1);
        assertThat(result.out()).isEmpty();
    }
}

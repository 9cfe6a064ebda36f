package cgw.cli;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.tools.Main;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which gateway and token a client command uses (options, then CGW_URL and CGW_TOKEN, then
 * ./cgw-data) and the one line it prints when it cannot use them, against a real REST server.
 */
class ClientOptionsTest extends RealGatewayTest {
    private static final String WRONG_TOKEN = RestGateway.TOKEN.replace('0', '1');

    /** A working directory without cgw-data. */
    @TempDir
    Path elsewhere;

    @Test
    void theDefaultsAreTheGatewaysOwnDataDirectory() {
        // where 'cgw serve' runs: ./cgw-data/api-token holds the token
        Cli.Result result = new Cli(dir).run("volume", "list", "--server", gateway.url());
        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.out()).startsWith("NAME");
    }

    @Test
    void serverOptionWinsOverCgwUrl() throws Exception {
        Cli cli = new Cli(dir).env("CGW_URL", "http://127.0.0.1:" + closedPort());
        assertThat(cli.run("volume", "list", "--server", gateway.url()).exitCode()).isZero();
        assertThat(cli.run("volume", "list").err()).startsWith("cgw: cannot reach http://127.0.0.1:");
    }

    @Test
    void cgwTokenWinsOverTheDefaultFile() {
        Cli cli = new Cli(dir).env("CGW_URL", gateway.url()).env("CGW_TOKEN", WRONG_TOKEN);
        assertFailure(cli.run("volume", "list"),
                "cgw: 401 unauthorized: wrong API token (the token came from $CGW_TOKEN)");

        Cli.Result noFile = new Cli(elsewhere).env("CGW_URL", gateway.url()).env("CGW_TOKEN", RestGateway.TOKEN)
                .run("volume", "list");
        assertThat(noFile.exitCode()).as(noFile.err()).isZero();
    }

    @Test
    void anExplicitTokenFileWinsOverCgwToken() throws Exception {
        Cli cli = new Cli(elsewhere).env("CGW_URL", gateway.url()).env("CGW_TOKEN", WRONG_TOKEN);
        assertThat(cli.run("volume", "list", "--token-file", gateway.tokenFile().toString()).exitCode()).isZero();

        Path wrong = elsewhere.resolve("wrong-token");
        Files.writeString(wrong, WRONG_TOKEN);
        Cli rightEnv = new Cli(elsewhere).env("CGW_URL", gateway.url()).env("CGW_TOKEN", RestGateway.TOKEN);
        assertFailure(rightEnv.run("volume", "list", "--token-file", wrong.toString()),
                "cgw: 401 unauthorized: wrong API token (the token came from " + wrong + ")");
    }

    @Test
    void aMissingTokenFileSaysWhichAndWhatElseWorks() {
        Cli cli = new Cli(elsewhere).env("CGW_URL", gateway.url());
        assertFailure(cli.run("volume", "list"),
                "cgw: cannot read the API token file " + elsewhere.resolve("cgw-data/api-token")
                        + ": no such file (or set CGW_TOKEN or --token-file)");
        Path missing = elsewhere.resolve("nope");
        assertFailure(cli.run("volume", "list", "--token-file", missing.toString()),
                "cgw: cannot read the API token file " + missing + ": no such file");
    }

    @Test
    void anEmptyTokenFileIsRefusedBeforeAnyRequest() throws Exception {
        Path empty = Files.writeString(elsewhere.resolve("empty"), "\n");
        assertFailure(
                new Cli(elsewhere).run("volume", "list", "--server", gateway.url(), "--token-file", empty.toString()),
                "cgw: the API token from " + empty + " is empty");
    }

    @Test
    void anUnreachableServerIsOneLine() throws Exception {
        int port = closedPort();
        assertFailure(
                new Cli(dir).run("volume", "create", "vm1", "--size", "1MiB", "--server", "http://127.0.0.1:" + port),
                "cgw: cannot reach http://127.0.0.1:" + port + ": connection refused");
    }

    @Test
    void aServerUrlThatIsNotOneIsAUsageError() {
        Cli.Result option = new Cli(dir).run("volume", "list", "--server", "ftp://127.0.0.1:1");
        assertThat(option.exitCode()).isEqualTo(Main.USAGE);
        assertThat(option.err()).startsWith("cgw: invalid server URL 'ftp://127.0.0.1:1' (from --server): "
                + "expected http://HOST:PORT or https://HOST:PORT\n");

        Cli.Result variable = new Cli(dir).env("CGW_URL", "127.0.0.1:10810").run("volume", "list");
        assertThat(variable.exitCode()).isEqualTo(Main.USAGE);
        assertThat(variable.err()).startsWith("cgw: invalid server URL '127.0.0.1:10810' (from CGW_URL)");
    }

    @Test
    void aTrailingSlashOnTheUrlIsFine() {
        assertThat(new Cli(dir).run("volume", "list", "--server", gateway.url() + "/").exitCode()).isZero();
    }

    @Test
    void logLevelStillWorksOnClientCommands() {
        assertThat(cli.run("volume", "list", "--log-level", "debug").exitCode()).isZero();
        Cli.Result loud = cli.run("--log-level", "loud", "volume", "list");
        assertThat(loud.exitCode()).isEqualTo(Main.USAGE);
        assertThat(loud.err()).contains("expected error, warn, info, debug or trace, got 'loud'");
    }

    /** A port nothing listens on (free a moment ago). */
    private static int closedPort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}

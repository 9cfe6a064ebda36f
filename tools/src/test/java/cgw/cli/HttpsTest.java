package cgw.cli;

import static cgw.cli.RealGatewayTest.assertFailure;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Client commands over HTTPS to a REST server with the gateway's own CA, as {@code cgw serve --tls} runs it. */
@Timeout(120)
class HttpsTest {
    @TempDir
    static Path dir;

    @TempDir
    static Path elsewhere;

    private static RestGateway gateway;

    @BeforeAll
    static void start() throws Exception {
        gateway = RestGateway.https(dir); // makes three RSA keys: once for the class
    }

    @AfterAll
    static void stop() {
        gateway.close();
    }

    @Test
    void trustsTheCaGivenWithCaCert() {
        Cli cli = new Cli(elsewhere).env("CGW_URL", gateway.url()).env("CGW_TOKEN", RestGateway.TOKEN);
        Cli.Result result = cli.run("volume", "create", "secure", "--size", "1MiB", "--ca-cert",
                gateway.caCert().toString());
        assertThat(result.exitCode()).as(result.err()).isZero();
        assertThat(result.lines()[1]).startsWith("secure  1.0 MiB");
    }

    @Test
    void trustsTheGatewaysDefaultCaFileWhenItIsThere() {
        Cli.Result result = new Cli(dir).run("volume", "list", "--server", gateway.url());
        assertThat(result.exitCode()).as(result.err()).isZero();
    }

    @Test
    void withoutTheCaTheCertificateIsRefusedInOneLine() {
        Cli cli = new Cli(elsewhere).env("CGW_URL", gateway.url()).env("CGW_TOKEN", RestGateway.TOKEN);
        assertFailure(cli.run("volume", "list"), "cgw: cannot reach " + gateway.url() + ": TLS failed: the server's "
                + "certificate is not from a trusted CA (for the gateway's own certificate, pass --ca-cert DATA/tls/ca-cert.pem)");
    }

    @Test
    void aMissingCaFileIsOneLine() {
        Path missing = elsewhere.resolve("ca.pem");
        Cli cli = new Cli(elsewhere).env("CGW_URL", gateway.url()).env("CGW_TOKEN", RestGateway.TOKEN);
        assertFailure(cli.run("volume", "list", "--ca-cert", missing.toString()),
                "cgw: cannot read the CA certificate file " + missing + ": no such file");
    }

    @Test
    void aFileThatIsNoCertificateIsOneLine() {
        Cli cli = new Cli(elsewhere).env("CGW_URL", gateway.url()).env("CGW_TOKEN", RestGateway.TOKEN);
        assertFailure(cli.run("volume", "list", "--ca-cert", gateway.tokenFile().toString()),
                "cgw: the CA certificate file " + gateway.tokenFile() + " does not hold a PEM certificate");
    }

    @Test
    void plainHttpToTheHttpsPortIsOneLine() {
        String url = gateway.url().replace("https:", "http:");
        assertFailure(new Cli(dir).env("CGW_URL", url).run("volume", "list"), "cgw: cannot reach " + url
                + ": the server closed the connection without an answer (does it serve https?)");
    }
}

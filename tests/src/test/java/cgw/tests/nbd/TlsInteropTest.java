package cgw.tests.nbd;

import static cgw.tests.ExternalTool.require;
import static cgw.tests.ExternalTool.run;
import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool.Result;
import cgw.tools.tls.TlsMaterial;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** NBD with STARTTLS, required: qemu and libnbd with the gateway's generated certificates. */
class TlsInteropTest {
    @TempDir
    Path dir;
    private NbdFixture nbd;
    private Path tls;

    @BeforeEach
    void start() {
        require("qemu-img", "qemu-utils");
        require("qemu-io", "qemu-utils");
        require("nbdinfo", "libnbd-bin");
        tls = dir.resolve("tls");
        TlsMaterial material = TlsMaterial.ensure(tls, List.of());
        nbd = new NbdFixture(dir, config -> config.withTls(material.serverContext()));
        nbd.createVolume("disk", 16L << 20);
    }

    @AfterEach
    void stop() throws Exception {
        nbd.close();
    }

    /** {@code tool [subcommand]} with the TLS object and image options before the rest of {@code args}. */
    private String[] qemu(String tool, String... args) {
        boolean img = tool.equals("qemu-img");
        String[] head = img
                ? new String[]{tool, args[0], "--object", "tls-creds-x509,id=tls0,dir=" + tls + ",endpoint=client",
                        "--image-opts"}
                : new String[]{tool, "--object", "tls-creds-x509,id=tls0,dir=" + tls + ",endpoint=client",
                        "--image-opts"};
        if (img) {
            args = java.util.Arrays.copyOfRange(args, 1, args.length);
        }
        String[] all = java.util.Arrays.copyOf(head, head.length + args.length);
        System.arraycopy(args, 0, all, head.length, args.length);
        return all;
    }

    private String imageOpts() {
        return "driver=nbd,host=127.0.0.1,port=" + nbd.port() + ",export=disk,tls-creds=tls0";
    }

    @Test
    void materialIsInQemuLayoutWithPrivateKeys() throws Exception {
        for (String file : List.of("ca-cert.pem", "server-cert.pem", "server-key.pem", "client-cert.pem",
                "client-key.pem")) {
            assertThat(tls.resolve(file)).exists();
        }
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tls.resolve("server-key.pem"))))
                .isEqualTo("rw-------");
        assertThat(Files.readString(tls.resolve("server-key.pem"))).startsWith("-----BEGIN PRIVATE KEY-----");
    }

    @Test
    void qemuReadsAndWritesOverTls() {
        run(qemu("qemu-io", "-c", "write -P 0x5c 1M 1M", "-c", "read -P 0x5c 1M 1M", imageOpts())).assertSuccess();
        Result info = run(qemu("qemu-img", "info", imageOpts())).assertSuccess();
        assertThat(info.stdout()).contains("16 MiB");
    }

    @Test
    void nbdinfoOverTls() {
        Result info = run("nbdinfo", "--json", "nbds://127.0.0.1:" + nbd.port() + "/disk?tls-certificates=" + tls)
                .assertSuccess();
        assertThat(info.stdout()).contains("\"TLS\": true");
    }

    @Test
    void clientsWithoutTlsAreRefused() throws Exception {
        Result plain = run("qemu-img", "info", nbd.uri("disk"));
        assertThat(plain.exitCode()).isNotZero();
        assertThat(plain.stderr()).containsIgnoringCase("TLS");
        try (RawNbdClient client = new RawNbdClient(nbd.port()).greet()) {
            client.sendOption(RawNbdClient.OPT_INFO, RawNbdClient.goData("disk"));
            assertThat(client.readOptionReply().type()).isEqualTo(RawNbdClient.REP_ERR_TLS_REQD);
            client.sendOption(RawNbdClient.OPT_LIST, new byte[0]);
            assertThat(client.readOptionReply().type()).isEqualTo(RawNbdClient.REP_ERR_TLS_REQD);
            client.sendOption(RawNbdClient.OPT_EXPORT_NAME, "disk".getBytes());
            assertThat(client.closedByServer()).isTrue();
        }
    }

    @Test
    void clientCertificateFromAnotherCaIsRefused() throws Exception {
        Path other = dir.resolve("other-tls");
        TlsMaterial.ensure(other, List.of());
        // trust our server's CA, but present a client certificate of another CA
        Files.copy(tls.resolve("ca-cert.pem"), other.resolve("ca-cert.pem"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Result result = run("nbdinfo", "nbds://127.0.0.1:" + nbd.port() + "/disk?tls-certificates=" + other);
        assertThat(result.exitCode()).isNotZero();
    }
}

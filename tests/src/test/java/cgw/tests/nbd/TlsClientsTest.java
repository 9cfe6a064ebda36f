package cgw.tests.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool;
import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may open a volume over NBD with {@code --tls}: certificates from {@code cgw tls client}, a
 * volume's {@code clients} list (on creation, by PATCH, inherited by clones, kept across restarts,
 * gone with the volume), {@code NBD_REP_ERR_POLICY} for others, with nbdinfo and qemu-img.
 */
@Timeout(240)
class TlsClientsTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void tools() {
        ExternalTool.require("nbdinfo", "libnbd-bin");
        ExternalTool.require("qemu-img", "qemu-utils");
    }

    @Test
    void onlyTheNamedClientsOpenAVolume() throws Exception {
        Path data = dir.resolve("data");
        Path alice = dir.resolve("alice");
        Path bob = dir.resolve("bob");
        try (GatewayProcess gateway = GatewayProcess.start(data, dir.resolve("gateway.err"), "--tls")) {
            issue("alice", alice, data);
            issue("bob", bob, data);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(alice.resolve("client-key.pem"))))
                    .isEqualTo("rw-------");
            ExternalTool.Result again = GatewayProcess.localCli(Map.of(), "tls", "client", "carol", "--out",
                    alice.toString(), "--data", data.toString());
            assertThat(again.exitCode()).isNotZero();
            assertThat(again.stderr()).contains("already holds a client certificate");

            JsonNode created = gateway.call(201, "POST", "/v1/volumes",
                    "{\"name\":\"vm1\",\"size\":\"16MiB\",\"clients\":[\"alice\"]}");
            assertThat(created.get("clients").toString()).isEqualTo("[\"alice\"]");
            gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"open\",\"size\":\"1MiB\"}");
            gateway.call(400, "POST", "/v1/volumes", "{\"name\":\"bad\",\"size\":\"1MiB\",\"clients\":[\"a b\"]}");
            gateway.call(404, "GET", "/v1/volumes/bad", null);

            assertOpens(gateway, alice, "vm1");
            assertRefused(gateway, bob, "vm1", "client 'bob' may not open export 'vm1'");
            assertOpens(gateway, bob, "open");
            assertThat(list(gateway, alice)).contains("vm1", "open");
            assertThat(list(gateway, bob)).contains("open").doesNotContain("vm1");
            ExternalTool.run("qemu-img", "info", "--object",
                    "tls-creds-x509,id=tls0,endpoint=client,dir=" + alice, "--image-opts",
                    "driver=nbd,host=127.0.0.1,port=" + gateway.nbdPort + ",export=vm1,tls-creds=tls0")
                    .assertSuccess();

            long snapshot = gateway.call(201, "POST", "/v1/snapshots", "{\"volumes\":[\"vm1\"]}").get("id").asLong();
            JsonNode patched = gateway.call(200, "PATCH", "/v1/volumes/vm1", "{\"clients\":[\"bob\"]}");
            assertThat(patched.get("clients").toString()).isEqualTo("[\"bob\"]");
            assertOpens(gateway, bob, "vm1@" + snapshot);
            assertRefused(gateway, alice, "vm1", "client 'alice' may not open export 'vm1'");
            assertRefused(gateway, alice, "vm1@" + snapshot, "may not open export 'vm1@" + snapshot + "'");
            gateway.call(400, "PATCH", "/v1/volumes/vm1", "{\"size\":\"32MiB\"}");
            gateway.call(400, "PATCH", "/v1/volumes/vm1", "{\"clients\":\"bob\"}");
            gateway.call(404, "PATCH", "/v1/volumes/nope", "{\"clients\":null}");

            gateway.call(201, "POST", "/v1/snapshots/" + snapshot + "/clone", "{\"prefix\":\"c-\"}");
            assertThat(gateway.call(200, "GET", "/v1/volumes/c-vm1", null).get("clients").toString())
                    .isEqualTo("[\"bob\"]");
            assertRefused(gateway, alice, "c-vm1", "client 'alice' may not open export 'c-vm1'");
            assertThat(gateway.stop()).isZero();
        }
        try (GatewayProcess gateway = GatewayProcess.start(data, dir.resolve("again.err"), "--tls")) {
            assertRefused(gateway, alice, "vm1", "client 'alice' may not open export 'vm1'");
            assertOpens(gateway, bob, "vm1");
            gateway.call(200, "PATCH", "/v1/volumes/vm1", "{\"clients\":null}");
            assertOpens(gateway, alice, "vm1");
            gateway.call(200, "PATCH", "/v1/volumes/vm1", "{\"clients\":[]}");
            assertRefused(gateway, bob, "vm1", "client 'bob' may not open export 'vm1'");

            gateway.call(204, "DELETE", "/v1/volumes/c-vm1", null);
            gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"c-vm1\",\"size\":\"1MiB\"}");
            assertThat(gateway.call(200, "GET", "/v1/volumes/c-vm1", null).get("clients").isNull()).isTrue();
            assertOpens(gateway, alice, "c-vm1");
            assertThat(gateway.stop()).isZero();
        }
    }

    private static void issue(String name, Path out, Path data) {
        ExternalTool.Result issued = GatewayProcess.localCli(Map.of(), "tls", "client", name, "--out", out.toString(),
                "--data", data.toString()).assertSuccess();
        assertThat(issued.stdout()).isEqualTo("client certificate for '" + name + "' in " + out + "\n");
        assertThat(out.resolve("ca-cert.pem")).exists();
        assertThat(out.resolve("client-cert.pem")).exists();
    }

    private static String uri(GatewayProcess gateway, Path certificates, String export) {
        return "nbds://127.0.0.1:" + gateway.nbdPort + "/" + export + "?tls-certificates=" + certificates;
    }

    private static void assertOpens(GatewayProcess gateway, Path certificates, String export) {
        ExternalTool.run("nbdinfo", "--size", uri(gateway, certificates, export)).assertSuccess();
    }

    /** Refused by policy to nbdinfo, and to qemu-img, which also shows the gateway's reason. */
    private static void assertRefused(GatewayProcess gateway, Path certificates, String export, String why) {
        ExternalTool.Result refused = ExternalTool.run("nbdinfo", "--size", uri(gateway, certificates, export));
        assertThat(refused.exitCode()).as(export + " opened with " + certificates).isNotZero();
        assertThat(refused.stderr()).contains("server policy prevents NBD_OPT_GO");
        ExternalTool.Result qemu = ExternalTool.run("qemu-img", "info", "--object",
                "tls-creds-x509,id=tls0,endpoint=client,dir=" + certificates, "--image-opts",
                "driver=nbd,host=127.0.0.1,port=" + gateway.nbdPort + ",export=" + export + ",tls-creds=tls0");
        assertThat(qemu.exitCode()).isNotZero();
        assertThat(qemu.stderr()).contains(why);
    }

    private static String list(GatewayProcess gateway, Path certificates) throws IOException {
        return ExternalTool.run("nbdinfo", "--list", "nbds://127.0.0.1:" + gateway.nbdPort + "/?tls-certificates="
                + certificates).assertSuccess().stdout();
    }
}

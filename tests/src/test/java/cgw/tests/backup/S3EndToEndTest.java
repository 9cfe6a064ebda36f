package cgw.tests.backup;

import static org.assertj.core.api.Assertions.assertThat;

import cgw.tests.ExternalTool;
import cgw.tests.GatewayProcess;
import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * An encrypted export and restore through S3: s3proxy on a filesystem blobstore in this JVM, the
 * {@code cgw serve} jar pointed at it with {@code --s3-endpoint} and finding its credentials and
 * region in the environment, as the AWS SDK's defaults do; then {@code cgw backup verify} on it.
 */
@Timeout(300)
class S3EndToEndTest {
    private static final String BUCKET = "backups";

    @TempDir
    Path dir;

    private BlobStoreContext context;
    private S3Proxy proxy;
    private String endpoint;
    private Map<String, String> environment;

    @BeforeEach
    void startS3() throws Exception {
        Properties properties = new Properties();
        properties.setProperty("jclouds.filesystem.basedir", dir.resolve("blobs").toString());
        context = ContextBuilder.newBuilder("filesystem").overrides(properties).build(BlobStoreContext.class);
        proxy = S3Proxy.builder().blobStore(context.getBlobStore()).endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, "cgw-access", "cgw-secret").build();
        proxy.start();
        while (!"STARTED".equals(proxy.getState())) {
            Thread.onSpinWait();
        }
        endpoint = "http://127.0.0.1:" + proxy.getPort();
        try (S3Client client = S3Client.builder().endpointOverride(URI.create(endpoint)).forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(
                        StaticCredentialsProvider.create(AwsBasicCredentials.create("cgw-access", "cgw-secret")))
                .build()) {
            client.createBucket(b -> b.bucket(BUCKET));
        }
        environment = Map.of("AWS_ACCESS_KEY_ID", "cgw-access", "AWS_SECRET_ACCESS_KEY", "cgw-secret",
                "AWS_REGION", "us-east-1", "CGW_BACKUP_PASSPHRASE", "correct horse battery staple");
    }

    @AfterEach
    void stopS3() throws Exception {
        proxy.stop();
        context.close();
    }

    @Test
    void anEncryptedExportToS3RestoresExactlyAndVerifies() throws Exception {
        ExternalTool.require("qemu-io", "qemu-utils");
        String target = "s3://" + BUCKET + "/site-a/db";
        try (GatewayProcess gateway = GatewayProcess.start(dir.resolve("data"), dir.resolve("gateway.err"), environment,
                "--s3-endpoint", endpoint, "--s3-path-style")) {
            gateway.call(201, "POST", "/v1/volumes", "{\"name\":\"disk\",\"size\":\"4MiB\"}");
            ExternalTool.run("qemu-io", "-f", "raw", "-c", "write -P 0x77 128k 1M", gateway.nbdUri("disk"))
                    .assertSuccess();
            long id = gateway.call(201, "POST", "/v1/snapshots", "{\"volumes\":[\"disk\"]}").get("id").asLong();

            ExternalTool.Result exported = gateway.cli(Map.of(), "export", String.valueOf(id), target).assertSuccess();
            assertThat(exported.stdout()).contains("done");
            JsonNode restore = gateway.call(202, "POST", "/v1/restores",
                    "{\"source\":\"" + target + "\",\"snapshot\":" + id + ",\"prefix\":\"s3-\"}");
            ExternalTool.Result shown;
            do {
                shown = gateway.cli(Map.of(), "job", "show", restore.get("id").asText()).assertSuccess();
            } while (shown.stdout().contains("running"));
            assertThat(shown.stdout()).contains("done");
            ExternalTool.run("qemu-img", "compare", "-f", "raw", "-F", "raw", gateway.nbdUri("s3-disk"),
                    gateway.nbdUri("disk@" + id)).assertSuccess();
            assertThat(gateway.stop()).isZero();
        }
        ExternalTool.Result verified = GatewayProcess.localCli(environment, "backup", "verify", target,
                "--s3-endpoint", endpoint, "--s3-path-style").assertSuccess();
        assertThat(verified.stdout()).contains("1 manifests").contains("no problems found");
        ExternalTool.Result wrongKey = GatewayProcess.localCli(Map.of("AWS_ACCESS_KEY_ID", "cgw-access",
                "AWS_SECRET_ACCESS_KEY", "cgw-secret", "AWS_REGION", "us-east-1", "CGW_BACKUP_PASSPHRASE", "wrong"),
                "backup", "verify", target, "--s3-endpoint", endpoint, "--s3-path-style");
        assertThat(wrongKey.exitCode()).isEqualTo(1);
    }
}

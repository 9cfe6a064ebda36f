package cgw.backup;

import static cgw.backup.BackupFixture.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import cgw.barrier.Snapshot;
import cgw.store.Volume;
import java.net.URI;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Properties;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/** The repository on a real S3-compatible server: s3proxy on a filesystem blobstore, started here. */
class S3BackupTest {
    private static final String ACCESS_KEY = "cgw-test-access";
    private static final String SECRET_KEY = "cgw-test-secret";
    private static final String BUCKET = "backups";

    @TempDir
    static Path blobs;

    private static S3Proxy proxy;
    private static BlobStoreContext context;
    private static URI endpoint;

    @TempDir
    Path dir;

    private BackupFixture fx;

    @BeforeAll
    static void startS3() throws Exception {
        Properties properties = new Properties();
        properties.setProperty("jclouds.filesystem.basedir", blobs.toString());
        context = ContextBuilder.newBuilder("filesystem").overrides(properties).build(BlobStoreContext.class);
        proxy = S3Proxy.builder()
                .blobStore(context.getBlobStore())
                .endpoint(URI.create("http://127.0.0.1:0"))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
                .build();
        proxy.start();
        while (!"STARTED".equals(proxy.getState())) {
            Thread.onSpinWait();
        }
        endpoint = URI.create("http://127.0.0.1:" + proxy.getPort());
        try (S3Client client = S3Client.builder().endpointOverride(endpoint).forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(
                        StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .build()) {
            client.createBucket(b -> b.bucket(BUCKET));
        }
    }

    @AfterAll
    static void stopS3() throws Exception {
        proxy.stop();
        context.close();
    }

    @BeforeEach
    void open() {
        fx = new BackupFixture(dir);
        // the SDK's default chain finds these, as it would the environment or ~/.aws on a gateway
        System.setProperty("aws.accessKeyId", ACCESS_KEY);
        System.setProperty("aws.secretAccessKey", SECRET_KEY);
    }

    @AfterEach
    void close() {
        System.clearProperty("aws.accessKeyId");
        System.clearProperty("aws.secretAccessKey");
        fx.close();
    }

    private Repository repository(String prefix, KeySource key) {
        return Repository.openOrCreate(
                ObjectStore.open("s3://" + BUCKET + "/" + prefix, S3Settings.compatible(endpoint)),
                BackupFixture.FAST_KDF, key);
    }

    @Test
    void anEncryptedIncrementalChainRoundtripsThroughS3() {
        Volume disk = fx.volume("disk", 8 * MIB);
        fx.fillRandom(disk, 0, 6 * MIB, 1);
        Snapshot first = fx.snapshot("disk");
        fx.fillRandom(disk, 2 * MIB, MIB, 2);
        Snapshot second = fx.snapshot("disk");
        try (Repository repository = repository("site-a/gw1", KeySource.passphrase("pw"))) {
            Exporter exporter = new Exporter(fx.store, repository, JobOptions.defaults(), "gw1");
            ExportResult full = exporter.export(first, null);
            ExportResult incremental = exporter.export(second, first);
            assertThat(full.chunksWritten()).isEqualTo(96);
            assertThat(incremental.chunksWritten()).isEqualTo(16);
            assertThat(repository.snapshotIds()).containsExactly(first.id(), second.id());
            assertThat(new Verifier(repository, JobOptions.defaults()).verifyAll().clean()).isTrue();
            fx.assertRestoresExactly(repository, second, "b-");
            fx.assertRestoresExactly(repository, first, "a-");
            assertThat(new Pruner(repository).keepLast(1).chunksDeleted()).isEqualTo(16);
            fx.assertRestoresExactly(repository, second, "c-");
        }
        assertThatThrownBy(() -> repository("site-a/gw1", KeySource.passphrase("nope")))
                .isInstanceOf(WrongKeyException.class);
    }

    @Test
    void largeObjectsGoUpInPartsAndPutIfAbsentNeverReplaces() {
        try (ObjectStore objects = ObjectStore.open("s3://" + BUCKET + "/objects", S3Settings.compatible(endpoint))) {
            byte[] large = BackupFixture.randomBytes(S3ObjectStore.PART_BYTES * 2 + 12345, 4);
            objects.put("snapshots/big", large);
            assertThat(Arrays.equals(objects.get("snapshots/big", 1L << 30), large))
                    .as("the large object reads back whole")
                    .isTrue();
            assertThatThrownBy(() -> objects.get("snapshots/big", large.length - 1))
                    .isInstanceOf(CorruptObjectException.class).hasMessageContaining("not read");
            assertThat(objects.putIfAbsent("config", new byte[]{1})).isTrue();
            assertThat(objects.putIfAbsent("config", new byte[]{2})).isFalse();
            assertThat(objects.get("config", 1L << 30)).containsExactly(1);
            assertThat(objects.list("snapshots/")).containsExactly("snapshots/big");
            assertThat(objects.exists("nothing")).isFalse();
            assertThatThrownBy(() -> objects.get("nothing", 1L << 30)).isInstanceOf(ObjectNotFoundException.class);
            objects.delete("snapshots/big");
            objects.removeIncomplete();
            assertThat(objects.list("")).containsExactly("config");
        }
    }
}

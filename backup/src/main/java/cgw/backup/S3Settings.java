package cgw.backup;

import java.net.URI;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;

/**
 * How to reach S3. Region and credentials come from the AWS SDK's default providers (environment,
 * system properties, {@code ~/.aws}, instance roles) unless set here; an S3-compatible server
 * (MinIO, Ceph RGW, s3proxy) is reached through {@code endpoint}, usually with path-style URLs.
 *
 * @param endpoint    an endpoint override such as {@code http://127.0.0.1:9000}, or null for AWS
 * @param region      a region name, or null for the default provider chain (us-east-1 when an
 *                    endpoint is set and the chain finds none)
 * @param pathStyle   {@code http://host/bucket/key} instead of {@code http://bucket.host/key}
 * @param credentials credentials, or null for the default provider chain
 */
public record S3Settings(URI endpoint, String region, boolean pathStyle, AwsCredentialsProvider credentials) {
    public static S3Settings defaults() {
        return new S3Settings(null, null, false, null);
    }

    public static S3Settings compatible(URI endpoint) {
        return new S3Settings(endpoint, null, true, null);
    }
}

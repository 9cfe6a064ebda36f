package cgw.cli;

import cgw.backup.S3Settings;
import java.net.URI;
import picocli.CommandLine.Option;

/**
 * How {@code s3://} repositories are reached, shared by {@code cgw serve} and {@code cgw backup}:
 * an S3-compatible endpoint and path-style URLs; region and credentials always come from the AWS
 * SDK's defaults (environment, {@code ~/.aws}, instance role). Filled by picocli.
 */
public final class S3Options {
    @Option(names = "--s3-endpoint", paramLabel = "URL", description = "S3-compatible endpoint for s3:// repositories, such as http://127.0.0.1:9000 (default: AWS)")
    URI endpoint;

    @Option(names = "--s3-path-style", description = "Address buckets as URL/bucket/key instead of bucket.URL/key")
    boolean pathStyle;

    public S3Settings settings() {
        return new S3Settings(endpoint, null, pathStyle, null);
    }
}

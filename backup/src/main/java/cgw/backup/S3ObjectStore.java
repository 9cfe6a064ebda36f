package cgw.backup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.regions.providers.DefaultAwsRegionProviderChain;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.MultipartUpload;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * Objects in an S3 bucket under a prefix, through the AWS SDK v2's synchronous client. A single
 * PUT is atomic in S3; objects above {@link #PART_BYTES} go up as a multipart upload, which S3
 * shows only once completed, so a reader never sees half an object either way. Put-if-absent is a
 * conditional PUT ({@code If-None-Match: *}). The S3 client is thread-safe, and so is this class.
 */
final class S3ObjectStore implements ObjectStore {
    private static final Logger LOG = LoggerFactory.getLogger(S3ObjectStore.class);
    /** Objects up to this size go in one PUT; larger ones in parts of this size (S3's minimum is 5 MiB). */
    static final int PART_BYTES = 16 << 20;

    private final S3Client client;
    private final String bucket;
    /** Empty, or the key prefix ending in '/'. */
    private final String prefix;

    private S3ObjectStore(S3Client client, String bucket, String prefix) {
        this.client = client;
        this.bucket = bucket;
        this.prefix = prefix.isEmpty() ? "" : prefix + "/";
    }

    static S3ObjectStore open(S3Settings settings, String bucket, String prefix) {
        S3ClientBuilder builder = S3Client.builder()
                .credentialsProvider(settings.credentials() != null
                        ? settings.credentials()
                        : DefaultCredentialsProvider.builder().build())
                .forcePathStyle(settings.pathStyle());
        if (settings.region() != null) {
            builder.region(Region.of(settings.region()));
        } else {
            builder.region(defaultRegion(settings));
        }
        if (settings.endpoint() != null) {
            builder.endpointOverride(settings.endpoint());
        }
        try {
            return new S3ObjectStore(builder.build(), bucket, prefix);
        } catch (SdkException e) {
            throw new InvalidTargetException("cannot set up S3 client for bucket " + bucket + ": " + e.getMessage());
        }
    }

    private static Region defaultRegion(S3Settings settings) {
        try {
            return new DefaultAwsRegionProviderChain().getRegion();
        } catch (SdkException e) {
            if (settings.endpoint() != null) {
                // S3-compatible servers mostly ignore the region, but signing needs one
                return Region.US_EAST_1;
            }
            throw new InvalidTargetException("no AWS region configured (AWS_REGION, ~/.aws/config): " + e.getMessage());
        }
    }

    @Override
    public void put(String key, byte[] data) {
        try {
            if (data.length <= PART_BYTES) {
                client.putObject(b -> b.bucket(bucket).key(prefix + key), RequestBody.fromBytes(data));
            } else {
                putMultipart(prefix + key, data);
            }
        } catch (SdkException e) {
            throw failure("put", key, e);
        }
    }

    private void putMultipart(String fullKey, byte[] data) {
        String uploadId = client.createMultipartUpload(b -> b.bucket(bucket).key(fullKey)).uploadId();
        try {
            List<CompletedPart> parts = new ArrayList<>();
            for (int offset = 0, number = 1; offset < data.length; offset += PART_BYTES, number++) {
                int length = Math.min(PART_BYTES, data.length - offset);
                int partNumber = number;
                String etag = client
                        .uploadPart(b -> b.bucket(bucket).key(fullKey).uploadId(uploadId).partNumber(partNumber),
                                RequestBody.fromRemainingByteBuffer(ByteBuffer.wrap(data, offset, length)))
                        .eTag();
                parts.add(CompletedPart.builder().partNumber(partNumber).eTag(etag).build());
            }
            client.completeMultipartUpload(b -> b.bucket(bucket).key(fullKey).uploadId(uploadId)
                    .multipartUpload(u -> u.parts(parts)));
        } catch (SdkException e) {
            abort(fullKey, uploadId);
            throw e;
        }
    }

    private void abort(String fullKey, String uploadId) {
        try {
            client.abortMultipartUpload(b -> b.bucket(bucket).key(fullKey).uploadId(uploadId));
        } catch (SdkException e) {
            // the upload stays invisible; removeIncomplete aborts it later
            LOG.warn("could not abort multipart upload {} of {}: {}", uploadId, fullKey, e.toString());
        }
    }

    @Override
    public boolean putIfAbsent(String key, byte[] data) {
        if (data.length > PART_BYTES) {
            throw new IllegalArgumentException("put-if-absent is for small objects, got " + data.length + " bytes");
        }
        try {
            client.putObject(b -> b.bucket(bucket).key(prefix + key).ifNoneMatch("*"), RequestBody.fromBytes(data));
            return true;
        } catch (S3Exception e) {
            if (e.statusCode() == 412 || e.statusCode() == 409) {
                return false;
            }
            throw failure("put", key, e);
        } catch (SdkException e) {
            throw failure("put", key, e);
        }
    }

    @Override
    public void sync() {
        // a PUT that returned is durable in S3
    }

    @Override
    public byte[] get(String key, long maxBytes) {
        try (ResponseInputStream<GetObjectResponse> in = client.getObject(b -> b.bucket(bucket).key(prefix + key))) {
            Long size = in.response().contentLength();
            if (size != null && size > maxBytes) {
                in.abort(); // do not drain the rest of a body we will not use
                throw ObjectStore.tooLarge(key, size, maxBytes, describe());
            }
            byte[] bytes = in.readNBytes((int) Math.min(maxBytes + 1, Integer.MAX_VALUE));
            if (bytes.length > maxBytes) {
                in.abort();
                throw ObjectStore.tooLarge(key, bytes.length, maxBytes, describe());
            }
            return bytes;
        } catch (IOException e) {
            throw new BackupException("get " + key + " in " + describe() + " failed: " + e.getMessage(), e);
        } catch (NoSuchKeyException e) {
            throw new ObjectNotFoundException("no object " + key + " in " + describe());
        } catch (SdkException e) {
            throw failure("get", key, e);
        }
    }

    @Override
    public boolean exists(String key) {
        try {
            client.headObject(b -> b.bucket(bucket).key(prefix + key));
            return true;
        } catch (NoSuchKeyException e) {
            return false;
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return false;
            }
            throw failure("head", key, e);
        } catch (SdkException e) {
            throw failure("head", key, e);
        }
    }

    @Override
    public List<String> list(String keyPrefix) {
        List<String> keys = new ArrayList<>();
        try {
            for (S3Object object : client.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(prefix + keyPrefix))
                    .contents()) {
                // "folder" markers (consoles, filesystem-backed servers) are never our objects
                if (!object.key().endsWith("/")) {
                    keys.add(object.key().substring(prefix.length()));
                }
            }
        } catch (SdkException e) {
            throw failure("list", keyPrefix, e);
        }
        keys.sort(null);
        return keys;
    }

    @Override
    public void delete(String key) {
        try {
            client.deleteObject(b -> b.bucket(bucket).key(prefix + key));
        } catch (SdkException e) {
            throw failure("delete", key, e);
        }
    }

    @Override
    public void removeIncomplete() {
        try {
            for (MultipartUpload upload : client.listMultipartUploadsPaginator(b -> b.bucket(bucket).prefix(prefix))
                    .uploads()) {
                LOG.info("aborting multipart upload {} of {} left by an interrupted write", upload.uploadId(),
                        upload.key());
                abort(upload.key(), upload.uploadId());
            }
        } catch (SdkException e) {
            throw failure("list uploads", "", e);
        }
    }

    @Override
    public String describe() {
        return "s3://" + bucket + "/" + prefix;
    }

    @Override
    public void close() {
        client.close();
    }

    private BackupException failure(String what, String key, SdkException e) {
        return new BackupException(what + " " + key + " in " + describe() + " failed: " + e.getMessage(), e);
    }
}

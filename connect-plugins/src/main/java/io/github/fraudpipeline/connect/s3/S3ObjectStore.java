package io.github.fraudpipeline.connect.s3;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.DeleteObjectRequest;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Object;

/** {@link ObjectStore} on one bucket of S3 or an S3-compatible server. */
final class S3ObjectStore implements ObjectStore {
  private final S3Client s3;
  private final String bucket;

  S3ObjectStore(S3ArchiveSinkConfig config) {
    S3ClientBuilder b = S3Client.builder()
        .httpClientBuilder(UrlConnectionHttpClient.builder())
        .region(Region.of(config.getString(S3ArchiveSinkConfig.REGION)))
        .serviceConfiguration(S3Configuration.builder()
            .pathStyleAccessEnabled(config.getBoolean(S3ArchiveSinkConfig.PATH_STYLE)).build());
    String endpoint = config.getString(S3ArchiveSinkConfig.ENDPOINT);
    if (!endpoint.isEmpty()) {
      b.endpointOverride(URI.create(endpoint));
    }
    String key = config.secret(S3ArchiveSinkConfig.ACCESS_KEY);
    b.credentialsProvider(key.isEmpty() ? DefaultCredentialsProvider.builder().build()
        : StaticCredentialsProvider.create(AwsBasicCredentials.create(key, config.secret(S3ArchiveSinkConfig.SECRET_KEY))));
    this.s3 = b.build();
    this.bucket = config.getString(S3ArchiveSinkConfig.BUCKET);
  }

  @Override
  public void put(String key, byte[] body, String contentType) {
    s3.putObject(PutObjectRequest.builder().bucket(bucket).key(key).contentType(contentType).build(),
        RequestBody.fromBytes(body));
  }

  @Override
  public List<String> list(String prefix) {
    List<String> keys = new ArrayList<>();
    String token = null;
    do {
      ListObjectsV2Response page = s3.listObjectsV2(ListObjectsV2Request.builder().bucket(bucket).prefix(prefix)
          .continuationToken(token).build());
      for (S3Object o : page.contents()) {
        keys.add(o.key());
      }
      token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
    } while (token != null);
    return keys;
  }

  @Override
  public void delete(List<String> keys) {
    // One request per key: recovery deletes a handful at most, and every S3-compatible server has it.
    for (String key : keys) {
      s3.deleteObject(DeleteObjectRequest.builder().bucket(bucket).key(key).build());
    }
  }

  @Override
  public void close() {
    s3.close();
  }
}

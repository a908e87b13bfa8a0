package io.github.fraudpipeline.connect.s3;

import java.util.Map;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;

/** Settings of {@link S3ArchiveSinkConnector}. */
public final class S3ArchiveSinkConfig extends AbstractConfig {
  public static final String BUCKET = "s3.bucket.name";
  public static final String PREFIX = "s3.prefix";
  public static final String REGION = "s3.region";
  public static final String ENDPOINT = "s3.endpoint";
  public static final String PATH_STYLE = "s3.path.style.access";
  public static final String ACCESS_KEY = "aws.access.key.id";
  public static final String SECRET_KEY = "aws.secret.access.key";
  public static final String TIME_FIELD = "partition.time.field";
  public static final String FLUSH_SIZE = "flush.size";
  public static final String ROTATE_MS = "rotate.interval.ms";
  public static final String MAX_RETRIES = "max.retries";
  public static final String BACKOFF_MS = "retry.backoff.ms";
  public static final String BACKOFF_MAX_MS = "retry.backoff.max.ms";

  public static final ConfigDef DEF =
      new ConfigDef()
          .define(BUCKET, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, new ConfigDef.NonEmptyString(),
              Importance.HIGH, "Bucket that receives the archive.")
          .define(PREFIX, Type.STRING, "", Importance.MEDIUM, "Key prefix, for example 'raw/'.")
          .define(REGION, Type.STRING, "us-east-1", Importance.MEDIUM, "AWS region.")
          .define(ENDPOINT, Type.STRING, "", Importance.MEDIUM,
              "Endpoint override for an S3-compatible server; empty for AWS.")
          .define(PATH_STYLE, Type.BOOLEAN, false, Importance.LOW, "Path-style addressing (local servers need it).")
          .define(ACCESS_KEY, Type.PASSWORD, "", Importance.HIGH,
              "Access key id; use a ConfigProvider reference. Empty: the default AWS credential chain.")
          .define(SECRET_KEY, Type.PASSWORD, "", Importance.HIGH, "Secret access key; use a ConfigProvider reference.")
          .define(TIME_FIELD, Type.STRING, "timestamp", Importance.HIGH,
              "RFC 3339 event-time field of the value; objects are partitioned by its UTC date (dt=YYYY-MM-DD).")
          .define(FLUSH_SIZE, Type.INT, 1000, ConfigDef.Range.atLeast(1), Importance.MEDIUM,
              "Records per object before it is written.")
          .define(ROTATE_MS, Type.LONG, 10_000L, ConfigDef.Range.atLeast(100), Importance.MEDIUM,
              "Longest time a record waits in memory before its object is written.")
          .define(MAX_RETRIES, Type.INT, 8, ConfigDef.Range.atLeast(0), Importance.LOW,
              "Retries of one upload before the batch goes back to the worker to retry.")
          .define(BACKOFF_MS, Type.LONG, 200L, ConfigDef.Range.atLeast(1), Importance.LOW, "First retry back-off.")
          .define(BACKOFF_MAX_MS, Type.LONG, 10_000L, ConfigDef.Range.atLeast(1), Importance.LOW, "Back-off cap.");

  public S3ArchiveSinkConfig(Map<String, String> props) {
    super(DEF, props);
  }

  public String secret(String key) {
    return getPassword(key) == null ? "" : getPassword(key).value();
  }
}

package io.github.fraudpipeline.connect.s3;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.fraudpipeline.connect.common.Backoff;
import io.github.fraudpipeline.connect.common.RecordJson;
import io.github.fraudpipeline.connect.common.Version;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.ErrantRecordReporter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;

/**
 * Buffers records per (topic partition, event date) and writes each buffer as one JSON-lines
 * object named {prefix}{topic}/dt={date}/{topic}+{partition}+{first offset}.jsonl.
 *
 * <p>Offsets are committed only for records already written (preCommit), so a crash replays what
 * was buffered and never loses it. A replay starts at the same first offset and so overwrites the
 * same object; when a replay batches differently, a record can appear in two objects, so readers
 * deduplicate by the record's own id (at-least-once archive). An unreachable store is retried with
 * back-off; a record without a parseable event time goes to the dead-letter queue.
 */
public class S3ArchiveSinkTask extends SinkTask {
  private static final Logger log = LoggerFactory.getLogger(S3ArchiveSinkTask.class);

  private static final Pattern SQL_TIMESTAMP =
      Pattern.compile("\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?");

  private S3ArchiveSinkConfig config;
  private S3Client s3;
  private ErrantRecordReporter reporter;
  private final Map<TopicPartition, Map<String, Batch>> buffers = new HashMap<>();
  private final Map<TopicPartition, Long> written = new HashMap<>();
  private final Map<TopicPartition, Long> lastSeen = new HashMap<>();
  private long oldestBufferedAt = Long.MAX_VALUE;

  private static final class Batch {
    final long firstOffset;
    final StringBuilder lines = new StringBuilder();
    int count;

    Batch(long firstOffset) {
      this.firstOffset = firstOffset;
    }
  }

  @Override
  public String version() {
    return Version.VERSION;
  }

  @Override
  public void start(Map<String, String> props) {
    config = new S3ArchiveSinkConfig(props);
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
    s3 = b.build();
    try {
      reporter = context.errantRecordReporter();
    } catch (NoSuchMethodError | NoClassDefFoundError e) {
      reporter = null;
    }
  }

  @Override
  public void put(Collection<SinkRecord> records) {
    for (SinkRecord r : records) {
      String line;
      String date;
      try {
        JsonNode value = RecordJson.toJson(r.value());
        date = eventDate(value);
        line = value.toString();
      } catch (DataException e) {
        reject(r, e);
        lastSeen.put(new TopicPartition(r.topic(), r.kafkaPartition()), r.kafkaOffset());
        continue;
      }
      TopicPartition tp = new TopicPartition(r.topic(), r.kafkaPartition());
      // Every record put so far is buffered (or dead-lettered): a flush makes all of them safe.
      lastSeen.put(tp, r.kafkaOffset());
      Batch batch = buffers.computeIfAbsent(tp, k -> new TreeMap<>())
          .computeIfAbsent(date, d -> new Batch(r.kafkaOffset()));
      batch.lines.append(line).append('\n');
      batch.count++;
      oldestBufferedAt = Math.min(oldestBufferedAt, System.currentTimeMillis());
      if (batch.count >= config.getInt(S3ArchiveSinkConfig.FLUSH_SIZE)) {
        flushPartition(tp, r.kafkaOffset());
      }
    }
    if (System.currentTimeMillis() - oldestBufferedAt >= config.getLong(S3ArchiveSinkConfig.ROTATE_MS)) {
      flushAll();
    }
  }

  private String eventDate(JsonNode value) {
    String field = config.getString(S3ArchiveSinkConfig.TIME_FIELD);
    String ts = RecordJson.requiredText(value, field);
    try {
      return OffsetDateTime.parse(ts).withOffsetSameInstant(ZoneOffset.UTC).toLocalDate().toString();
    } catch (DateTimeParseException e) {
      // The stream engine writes SQL timestamps in UTC (2024-11-16 14:00:00[.123]): the date is their start.
      if (SQL_TIMESTAMP.matcher(ts).matches()) {
        return LocalDate.parse(ts.substring(0, 10)).toString();
      }
      throw new DataException("field '" + field + "' is neither an RFC 3339 timestamp nor a UTC SQL timestamp: "
          + ts, e);
    }
  }

  /** Writes every buffered batch of one partition; records up to lastOffset are then safe. */
  private void flushPartition(TopicPartition tp, long lastOffset) {
    Map<String, Batch> byDate = buffers.remove(tp);
    if (byDate == null) {
      return;
    }
    for (Map.Entry<String, Batch> e : byDate.entrySet()) {
      upload(tp, e.getKey(), e.getValue());
    }
    written.put(tp, lastOffset + 1);
    if (buffers.isEmpty()) {
      oldestBufferedAt = Long.MAX_VALUE;
    }
  }

  private void flushAll() {
    for (TopicPartition tp : buffers.keySet().toArray(new TopicPartition[0])) {
      long last = buffers.get(tp).values().stream().mapToLong(b -> b.firstOffset).max().orElse(0);
      flushPartition(tp, Math.max(last, lastSeen.getOrDefault(tp, last)));
    }
    oldestBufferedAt = Long.MAX_VALUE;
  }

  private void upload(TopicPartition tp, String date, Batch batch) {
    String key = String.format("%s%s/dt=%s/%s+%d+%020d.jsonl", config.getString(S3ArchiveSinkConfig.PREFIX),
        tp.topic(), date, tp.topic(), tp.partition(), batch.firstOffset);
    byte[] bytes = batch.lines.toString().getBytes(StandardCharsets.UTF_8);
    int max = config.getInt(S3ArchiveSinkConfig.MAX_RETRIES);
    Exception last = null;
    for (int attempt = 0; attempt <= max; attempt++) {
      try {
        s3.putObject(PutObjectRequest.builder().bucket(config.getString(S3ArchiveSinkConfig.BUCKET)).key(key)
            .contentType("application/x-ndjson").build(), RequestBody.fromBytes(bytes));
        return;
      } catch (Exception e) {
        last = e;
        long delay = Backoff.delayMs(attempt, config.getLong(S3ArchiveSinkConfig.BACKOFF_MS),
            config.getLong(S3ArchiveSinkConfig.BACKOFF_MAX_MS));
        log.warn("upload of {} failed (attempt {} of {}), retrying in {} ms: {}", key, attempt + 1, max + 1, delay,
            e.toString());
        try {
          Thread.sleep(delay);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    // Hand everything back: the worker rewinds to the committed offsets and delivers again.
    buffers.clear();
    oldestBufferedAt = Long.MAX_VALUE;
    throw new RetriableException("object store unavailable; will retry " + key, last);
  }

  @Override
  public Map<TopicPartition, OffsetAndMetadata> preCommit(Map<TopicPartition, OffsetAndMetadata> current) {
    flushAll();
    Map<TopicPartition, OffsetAndMetadata> safe = new HashMap<>();
    for (TopicPartition tp : current.keySet()) {
      Long offset = written.get(tp);
      if (offset != null) {
        safe.put(tp, new OffsetAndMetadata(offset));
      }
    }
    return safe;
  }

  private void reject(SinkRecord r, Exception e) {
    if (reporter == null) {
      throw new ConnectException("cannot archive record " + r.topic() + "/" + r.kafkaPartition() + "@"
          + r.kafkaOffset() + " and no dead-letter queue is configured", e);
    }
    reporter.report(r, e);
  }

  @Override
  public void close(Collection<TopicPartition> partitions) {
    for (TopicPartition tp : partitions) {
      buffers.remove(tp);
      written.remove(tp);
      lastSeen.remove(tp);
    }
  }

  @Override
  public void stop() {
    if (s3 != null) {
      s3.close();
    }
  }
}

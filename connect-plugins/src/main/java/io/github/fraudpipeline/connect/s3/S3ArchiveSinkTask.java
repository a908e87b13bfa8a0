package io.github.fraudpipeline.connect.s3;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.fraudpipeline.connect.common.Backoff;
import io.github.fraudpipeline.connect.common.RecordJson;
import io.github.fraudpipeline.connect.common.Version;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
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

/**
 * Buffers records per (topic partition, event date) in {@code put}, and writes each buffer as one
 * JSON-lines object named {prefix}{topic}/dt={date}/{topic}+{partition}+{first offset}.jsonl when
 * it holds {@code flush.size} records, when the oldest buffered record has waited
 * {@code rotate.interval.ms}, and in {@code preCommit}.
 *
 * <p>Nothing is lost: offsets are committed only up to records already written. When the store
 * is unreachable, {@code put} keeps every buffer and hands the batch back to the worker
 * (RetriableException with a timeout); the worker delivers that same batch again, and records the
 * task already holds are recognised by offset and not buffered twice. {@code preCommit} never
 * throws: a failed write just commits nothing new.
 *
 * <p>Nothing is doubled: after a restart or rebalance the task reads again from the committed
 * offset C. Objects written after C by an earlier owner hold only records at or after C, which
 * this owner is about to write again; before its first write of a (partition, date), the task
 * deletes that partition's objects of that date whose first offset is at or after C. So each
 * record ends up in exactly one object, and readers need no de-duplication.
 *
 * <p>A record without a parseable event time goes to the dead-letter queue.
 */
public class S3ArchiveSinkTask extends SinkTask {
  private static final Logger log = LoggerFactory.getLogger(S3ArchiveSinkTask.class);
  private static final String CONTENT_TYPE = "application/x-ndjson";
  private static final Pattern SQL_TIMESTAMP =
      Pattern.compile("\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?");

  private final Function<S3ArchiveSinkConfig, ObjectStore> storeFactory;
  private S3ArchiveSinkConfig config;
  private ObjectStore store;
  private ErrantRecordReporter reporter;
  private final Map<TopicPartition, Partition> partitions = new HashMap<>();
  private int failedFlushes;

  /** What the task holds of one assigned partition. */
  private static final class Partition {
    /** Offset after the last record buffered or dead-lettered; -1 before the first. */
    long next = -1;
    /** The first offset delivered since the partition was assigned (the committed one, or later). */
    long firstSinceOpen = -1;
    /** Offset up to which every record is written (or dead-lettered): what preCommit commits. */
    long safe = -1;
    final TreeMap<String, Batch> batches = new TreeMap<>();
    final Set<String> recovered = new HashSet<>();
    long oldestBufferedAt = Long.MAX_VALUE;

    int buffered() {
      return batches.values().stream().mapToInt(b -> b.count).sum();
    }
  }

  private static final class Batch {
    final long firstOffset;
    final StringBuilder lines = new StringBuilder();
    int count;

    Batch(long firstOffset) {
      this.firstOffset = firstOffset;
    }
  }

  public S3ArchiveSinkTask() {
    this(S3ObjectStore::new);
  }

  /** For tests: the store the task writes to. */
  S3ArchiveSinkTask(Function<S3ArchiveSinkConfig, ObjectStore> storeFactory) {
    this.storeFactory = storeFactory;
  }

  @Override
  public String version() {
    return Version.VERSION;
  }

  @Override
  public void start(Map<String, String> props) {
    config = new S3ArchiveSinkConfig(props);
    store = storeFactory.apply(config);
    try {
      reporter = context.errantRecordReporter();
    } catch (NoSuchMethodError | NoClassDefFoundError e) {
      reporter = null;
    }
  }

  @Override
  public void put(Collection<SinkRecord> records) {
    for (SinkRecord r : records) {
      TopicPartition tp = new TopicPartition(r.topic(), r.kafkaPartition());
      Partition p = partitions.computeIfAbsent(tp, k -> new Partition());
      if (p.next >= 0 && r.kafkaOffset() < p.next) {
        continue; // a batch the worker delivers again after a RetriableException: already held
      }
      if (p.firstSinceOpen < 0) {
        p.firstSinceOpen = r.kafkaOffset();
      }
      p.next = r.kafkaOffset() + 1;
      String line;
      String date;
      try {
        JsonNode value = RecordJson.toJson(r.value());
        date = eventDate(value);
        line = value.toString();
      } catch (DataException e) {
        reject(r, e);
        if (p.batches.isEmpty()) {
          p.safe = p.next; // nothing waits before it: the dead letter alone makes this offset safe
        }
        continue;
      }
      Batch batch = p.batches.computeIfAbsent(date, d -> new Batch(r.kafkaOffset()));
      batch.lines.append(line).append('\n');
      batch.count++;
      p.oldestBufferedAt = Math.min(p.oldestBufferedAt, System.currentTimeMillis());
    }
    // Due: a partition with a full object, or one whose oldest record has waited long enough
    // (after a failed write too, when the worker delivers the batch again with nothing new).
    int flushSize = config.getInt(S3ArchiveSinkConfig.FLUSH_SIZE);
    long rotateMs = config.getLong(S3ArchiveSinkConfig.ROTATE_MS);
    long now = System.currentTimeMillis();
    List<TopicPartition> due = new ArrayList<>();
    for (Map.Entry<TopicPartition, Partition> e : partitions.entrySet()) {
      Partition p = e.getValue();
      if (now - p.oldestBufferedAt >= rotateMs || p.batches.values().stream().anyMatch(b -> b.count >= flushSize)) {
        due.add(e.getKey());
      }
    }
    try {
      for (TopicPartition tp : due) {
        flush(tp);
      }
      failedFlushes = 0;
    } catch (StoreUnavailable e) {
      // Keep every buffer; pause, then the worker delivers this batch again (see put's first check).
      long pause = Backoff.delayMs(failedFlushes++, config.getLong(S3ArchiveSinkConfig.BACKOFF_MS),
          config.getLong(S3ArchiveSinkConfig.BACKOFF_MAX_MS));
      context.timeout(pause);
      throw new RetriableException("object store unavailable, " + buffered() + " records kept in memory; "
          + "retrying in " + pause + " ms: " + e.getMessage(), e.getCause());
    }
  }

  private int buffered() {
    return partitions.values().stream().mapToInt(Partition::buffered).sum();
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

  /** Writes every batch of one partition; a batch leaves memory only once its object is written. */
  private void flush(TopicPartition tp) {
    Partition p = partitions.get(tp);
    if (p == null || p.batches.isEmpty()) {
      return;
    }
    Iterator<Map.Entry<String, Batch>> it = p.batches.entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<String, Batch> e = it.next();
      String date = e.getKey();
      if (!p.recovered.contains(date)) {
        recover(tp, p, date);
        p.recovered.add(date);
      }
      upload(key(tp, date, e.getValue().firstOffset), e.getValue().lines.toString().getBytes(StandardCharsets.UTF_8));
      it.remove();
    }
    p.safe = p.next;
    p.oldestBufferedAt = Long.MAX_VALUE;
  }

  private String datePrefix(TopicPartition tp, String date) {
    return String.format("%s%s/dt=%s/%s+%d+", config.getString(S3ArchiveSinkConfig.PREFIX), tp.topic(), date,
        tp.topic(), tp.partition());
  }

  private String key(TopicPartition tp, String date, long firstOffset) {
    return String.format("%s%020d.jsonl", datePrefix(tp, date), firstOffset);
  }

  /** Deletes objects of an earlier owner that hold records this owner will write again. */
  private void recover(TopicPartition tp, Partition p, String date) {
    String prefix = datePrefix(tp, date);
    List<String> stale = new ArrayList<>();
    for (String k : call("list " + prefix, () -> store.list(prefix))) {
      String rest = k.substring(prefix.length());
      if (!rest.endsWith(".jsonl")) {
        continue;
      }
      try {
        if (Long.parseLong(rest.substring(0, rest.length() - ".jsonl".length())) >= p.firstSinceOpen) {
          stale.add(k);
        }
      } catch (NumberFormatException e) {
        // not one of this task's objects: left alone
      }
    }
    if (!stale.isEmpty()) {
      log.info("{}: rewriting from offset {}: deleting {} object(s) written after it by an earlier owner: {}",
          tp, p.firstSinceOpen, stale.size(), stale);
      call("delete " + stale, () -> {
        store.delete(stale);
        return null;
      });
    }
  }

  private void upload(String key, byte[] bytes) {
    call("upload " + key, () -> {
      store.put(key, bytes, CONTENT_TYPE);
      return null;
    });
  }

  /** One store call with in-call retries; then StoreUnavailable (buffers untouched). */
  private <T> T call(String what, java.util.function.Supplier<T> action) {
    int max = config.getInt(S3ArchiveSinkConfig.MAX_RETRIES);
    RuntimeException last = null;
    for (int attempt = 0; attempt <= max; attempt++) {
      try {
        return action.get();
      } catch (RuntimeException e) {
        last = e;
        if (attempt == max) {
          break;
        }
        long delay = Backoff.delayMs(attempt, config.getLong(S3ArchiveSinkConfig.BACKOFF_MS),
            config.getLong(S3ArchiveSinkConfig.BACKOFF_MAX_MS));
        log.warn("{} failed (attempt {} of {}), retrying in {} ms: {}", what, attempt + 1, max + 1, delay,
            e.toString());
        try {
          Thread.sleep(delay);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    throw new StoreUnavailable(what + ": " + last, last);
  }

  private static final class StoreUnavailable extends RuntimeException {
    StoreUnavailable(String message, Throwable cause) {
      super(message, cause);
    }
  }

  @Override
  public Map<TopicPartition, OffsetAndMetadata> preCommit(Map<TopicPartition, OffsetAndMetadata> current) {
    for (TopicPartition tp : new ArrayList<>(partitions.keySet())) {
      try {
        flush(tp);
      } catch (StoreUnavailable e) {
        // Throwing here would make the worker rewind; committing only what is written is enough.
        log.warn("{}: not written yet ({}); committing only what is", tp, e.getMessage());
      }
    }
    Map<TopicPartition, OffsetAndMetadata> safe = new HashMap<>();
    for (Map.Entry<TopicPartition, OffsetAndMetadata> e : current.entrySet()) {
      Partition p = partitions.get(e.getKey());
      if (p == null || p.batches.isEmpty()) {
        // Nothing held: all the worker delivered is written, or was dead-lettered by the worker
        // itself (a converter failure never reaches put).
        safe.put(e.getKey(), e.getValue());
      } else if (p.safe >= 0) {
        safe.put(e.getKey(), new OffsetAndMetadata(p.safe));
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
  public void close(Collection<TopicPartition> closed) {
    // The next owner (maybe this task again) reads from the committed offset and writes it all again.
    for (TopicPartition tp : closed) {
      partitions.remove(tp);
    }
  }

  @Override
  public void stop() {
    if (store != null) {
      store.close();
    }
  }
}

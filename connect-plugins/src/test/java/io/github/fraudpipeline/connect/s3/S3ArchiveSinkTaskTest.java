package io.github.fraudpipeline.connect.s3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.fraudpipeline.connect.common.FakeContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.junit.jupiter.api.Test;

class S3ArchiveSinkTaskTest {
  private static final String TOPIC = "transactions";
  private static final TopicPartition TP = new TopicPartition(TOPIC, 0);

  private final MemoryStore store = new MemoryStore();
  private final FakeContext context = new FakeContext();

  private S3ArchiveSinkTask task(int flushSize) {
    S3ArchiveSinkTask task = new S3ArchiveSinkTask(config -> store);
    task.initialize(context);
    task.start(Map.of(
        "s3.bucket.name", "archive",
        "s3.prefix", "raw/",
        "flush.size", String.valueOf(flushSize),
        "rotate.interval.ms", "3600000", // only size and preCommit write, so the test decides when
        "max.retries", "0",
        "retry.backoff.ms", "1"));
    return task;
  }

  private static SinkRecord record(long offset, String day) {
    String value = "{\"transaction_id\":\"t" + offset + "\",\"timestamp\":\"2024-11-" + day + "T10:00:00Z\"}";
    return new SinkRecord(TOPIC, 0, null, null, null, value, offset);
  }

  private static List<SinkRecord> records(long from, long to, String day) {
    return LongStream.range(from, to).mapToObj(o -> record(o, day)).toList();
  }

  private static Map<TopicPartition, OffsetAndMetadata> position(long next) {
    return Map.of(TP, new OffsetAndMetadata(next));
  }

  private static List<String> ids(List<String> lines) {
    return lines.stream().map(l -> l.replaceAll(".*\"transaction_id\":\"(t\\d+)\".*", "$1")).toList();
  }

  private static List<String> expected(long from, long to) {
    return LongStream.range(from, to).mapToObj(o -> "t" + o).collect(Collectors.toList());
  }

  /** The defect issue 15 names: records buffered by earlier puts were dropped on a failed upload. */
  @Test
  void recordsOfEarlierPutsSurviveAnOutageOfTheStore() {
    S3ArchiveSinkTask task = task(6);
    task.put(records(0, 3, "16")); // buffered, not written
    store.down = true;
    List<SinkRecord> second = records(3, 6, "16");
    assertThrows(RetriableException.class, () -> task.put(second)); // the sixth record fills the object
    Map<TopicPartition, OffsetAndMetadata> committed = task.preCommit(position(6));

    store.down = false;
    task.put(second); // the worker delivers the failed batch again, and only that batch
    assertEquals(expected(0, 6), ids(store.lines()));
    assertFalse(committed.containsKey(TP), "nothing was written, so nothing could be committed: " + committed);
    assertEquals(6, task.preCommit(position(6)).get(TP).offset());
    assertEquals(1, context.timeouts.size(), "the worker is told to pause before delivering again");
  }

  @Test
  void preCommitNeverThrowsAndCommitsOnlyWhatIsWritten() {
    S3ArchiveSinkTask task = task(4);
    task.put(records(0, 4, "16")); // written at once (flush.size)
    task.put(records(4, 6, "16"));
    store.down = true;
    assertEquals(4, task.preCommit(position(6)).get(TP).offset());
    store.down = false;
    assertEquals(6, task.preCommit(position(6)).get(TP).offset());
    assertEquals(expected(0, 6), ids(store.lines()));
  }

  /** A crash between an upload and the offset commit: the next owner rewrites, nothing is doubled. */
  @Test
  void aRestartAfterUncommittedWritesLeavesEachRecordInOneObject() {
    S3ArchiveSinkTask first = task(4);
    first.put(records(0, 4, "16"));
    assertEquals(4, first.preCommit(position(4)).get(TP).offset()); // committed: 4
    first.put(records(4, 8, "16")); // written as the object starting at 4
    first.put(records(8, 12, "16")); // and at 8; then the worker dies before committing
    first.put(List.of(record(12, "17"))); // buffered only: lost with the worker, read again below

    S3ArchiveSinkTask second = task(3); // the next owner cuts its objects differently (4, 7, 10)
    for (long from = 4; from < 12; from += 3) {
      second.put(records(from, Math.min(from + 3, 12), "16")); // delivered again from the committed offset
    }
    second.put(List.of(record(12, "17")));
    assertEquals(13, second.preCommit(position(13)).get(TP).offset());
    List<String> archived = ids(store.lines());
    assertEquals(archived.size(), archived.stream().distinct().count(), "no record in two objects: " + archived);
    assertEquals(expected(0, 13), archived.stream()
        .sorted((a, b) -> Long.compare(Long.parseLong(a.substring(1)), Long.parseLong(b.substring(1)))).toList());
  }

  @Test
  void objectsArePartitionedByEventDateAndNamedByFirstOffset() {
    S3ArchiveSinkTask task = task(100);
    task.put(List.of(record(0, "16"), record(1, "17"), record(2, "16")));
    task.preCommit(position(3));
    assertEquals(List.of(
        "raw/transactions/dt=2024-11-16/transactions+0+00000000000000000000.jsonl",
        "raw/transactions/dt=2024-11-17/transactions+0+00000000000000000001.jsonl"),
        new ArrayList<>(store.objects.keySet()));
  }

  /** A scored transaction carries its event time inside the transaction: a dotted field name. */
  @Test
  void aNestedTimeFieldPartitionsByItsDate() {
    S3ArchiveSinkTask task = new S3ArchiveSinkTask(config -> store);
    task.initialize(context);
    task.start(Map.of(
        "s3.bucket.name", "archive",
        "s3.prefix", "scored/",
        "partition.time.field", "transaction.timestamp",
        "flush.size", "100",
        "rotate.interval.ms", "3600000",
        "max.retries", "0",
        "retry.backoff.ms", "1"));
    String nested = "{\"transaction\":{\"transaction_id\":\"t0\",\"timestamp\":\"2024-11-18T10:00:00Z\"}}";
    task.put(List.of(new SinkRecord(TOPIC, 0, null, null, null, nested, 0),
        new SinkRecord(TOPIC, 0, null, null, null, "{\"transaction\":{}}", 1)));
    task.preCommit(position(2));
    assertEquals(List.of("scored/transactions/dt=2024-11-18/transactions+0+00000000000000000000.jsonl"),
        new ArrayList<>(store.objects.keySet()));
    assertEquals(1, context.deadLetters.size());
    assertTrue(context.deadLetters.get(0).reason().getMessage().contains("no field 'transaction.timestamp'"));
  }

  @Test
  void aRecordWithoutEventTimeIsDeadLetteredAndItsOffsetCommitted() {
    S3ArchiveSinkTask task = task(100);
    task.put(List.of(record(0, "16"), new SinkRecord(TOPIC, 0, null, null, null, "{\"transaction_id\":\"x\"}", 1),
        new SinkRecord(TOPIC, 0, null, null, null, "not json", 2)));
    assertEquals(2, context.deadLetters.size());
    assertTrue(context.deadLetters.get(0).reason().getMessage().contains("no field 'timestamp'"));
    assertTrue(context.deadLetters.get(1).reason().getMessage().contains("not valid JSON"));
    assertEquals(3, task.preCommit(position(3)).get(TP).offset());
    assertEquals(List.of("t0"), ids(store.lines()));
  }

  @Test
  void aClosedPartitionIsForgottenAndReadAgainByItsNextOwner() {
    S3ArchiveSinkTask task = task(100);
    task.put(records(0, 2, "16"));
    task.close(List.of(TP));
    assertEquals(Map.of(), task.preCommit(Map.of()));
    assertEquals(0, store.puts);
  }
}

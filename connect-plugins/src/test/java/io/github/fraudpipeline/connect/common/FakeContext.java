package io.github.fraudpipeline.connect.common;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.metrics.PluginMetrics;
import org.apache.kafka.connect.sink.ErrantRecordReporter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTaskContext;

/** The worker's side of a sink task, as far as the tasks use it: dead letters and pauses. */
public final class FakeContext implements SinkTaskContext {
  /** A dead letter: the record and the reason the task gave. */
  public record DeadLetter(SinkRecord record, Throwable reason) {}

  public final List<DeadLetter> deadLetters = new ArrayList<>();
  public final List<Long> timeouts = new ArrayList<>();

  @Override
  public ErrantRecordReporter errantRecordReporter() {
    return (SinkRecord record, Throwable error) -> {
      deadLetters.add(new DeadLetter(record, error));
      Future<Void> done = CompletableFuture.completedFuture(null);
      return done;
    };
  }

  @Override
  public Map<String, String> configs() {
    return Map.of();
  }

  @Override
  public void offset(Map<TopicPartition, Long> offsets) {}

  @Override
  public void offset(TopicPartition tp, long offset) {}

  @Override
  public void timeout(long timeoutMs) {
    timeouts.add(timeoutMs);
  }

  @Override
  public Set<TopicPartition> assignment() {
    return Set.of();
  }

  @Override
  public void pause(TopicPartition... partitions) {}

  @Override
  public void resume(TopicPartition... partitions) {}

  @Override
  public void requestCommit() {}

  @Override
  public PluginMetrics pluginMetrics() {
    return null;
  }
}

package io.github.fraudpipeline.connect.transforms;

import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.transforms.Transformation;

/**
 * Makes a record whose value is null a real tombstone: value schema dropped too, so a converter
 * writes null bytes (compaction removes the key; upsert readers see a delete) instead of the JSON
 * text {@code null} that a null value with a schema becomes. Debezium's unwrapped delete events
 * are such records.
 */
public class NullToTombstone<R extends ConnectRecord<R>> implements Transformation<R> {
  @Override
  public void configure(Map<String, ?> props) {}

  @Override
  public R apply(R record) {
    if (record.value() != null || record.valueSchema() == null) {
      return record;
    }
    return record.newRecord(record.topic(), record.kafkaPartition(), record.keySchema(), record.key(), null, null,
        record.timestamp());
  }

  @Override
  public ConfigDef config() {
    return new ConfigDef();
  }

  @Override
  public void close() {}
}

package io.github.fraudpipeline.connect.transforms;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.junit.jupiter.api.Test;

class ValueToStructTest {
  private static ValueToStruct<SinkRecord> smt(String required) {
    ValueToStruct<SinkRecord> smt = new ValueToStruct<>();
    smt.configure(Map.of("fields", "alert_id:string,rule:string,amount:float64,count:int64",
        "required", required));
    return smt;
  }

  private static SinkRecord record(Object value) {
    return new SinkRecord("fraud-alerts", 0, null, null, null, value, 7);
  }

  @Test
  void declaredFieldsOnlyWithTheirTypes() {
    Map<String, Object> value = new HashMap<>(Map.of("alert_id", "a1", "rule", "high_value", "amount", 12,
        "count", 3.0, "extra", "dropped"));
    Struct struct = (Struct) smt("alert_id,rule").apply(record(value)).value();
    assertEquals("a1", struct.get("alert_id"));
    assertEquals(12.0, struct.get("amount"));
    assertEquals(3L, struct.get("count"));
    assertNull(struct.schema().field("extra"));
    assertTrue(struct.schema().field("amount").schema().isOptional());
  }

  /** Issue 15: a NOT NULL column's null failed the JDBC sink's task instead of reaching the DLQ. */
  @Test
  void aRequiredFieldMissingIsADataExceptionNamingIt() {
    Map<String, Object> value = new HashMap<>(Map.of("alert_id", "a1"));
    DataException e = assertThrows(DataException.class, () -> smt("alert_id,rule").apply(record(value)));
    assertTrue(e.getMessage().contains("field 'rule' is required"), e.getMessage());
    value.put("rule", null);
    assertThrows(DataException.class, () -> smt("alert_id,rule").apply(record(value)));
  }

  @Test
  void aValueThatIsNotAnObjectIsADataException() {
    assertThrows(DataException.class, () -> smt("").apply(record("text")));
    assertThrows(DataException.class, () -> smt("").apply(record(Map.of("amount", "ten"))));
  }

  @Test
  void tombstonesPassAndUnknownRequiredFieldsAreAConfigError() {
    assertNull(smt("alert_id").apply(record(null)).value());
    assertThrows(ConfigException.class, () -> smt("nope"));
  }
}

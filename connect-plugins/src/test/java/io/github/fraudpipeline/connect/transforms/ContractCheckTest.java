package io.github.fraudpipeline.connect.transforms;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.junit.jupiter.api.Test;

/** The contract check against the shape of schema pydantic renders for the alert record. */
class ContractCheckTest {
  private static final String SCHEMA = """
      {"$defs": {"Severity": {"enum": ["low", "medium", "high", "critical"], "type": "string"}},
       "additionalProperties": true, "type": "object",
       "required": ["alert_id", "severity", "amount", "risk_score"],
       "properties": {
         "alert_id": {"maxLength": 16, "minLength": 1, "type": "string"},
         "severity": {"$ref": "#/$defs/Severity"},
         "amount": {"type": "number"},
         "currency": {"anyOf": [{"pattern": "^[A-Z]{3}$", "type": "string"}, {"type": "null"}]},
         "risk_score": {"maximum": 1, "minimum": 0, "type": "number"},
         "reasons": {"items": {"type": "string"}, "type": "array"}}}
      """;

  private static ContractCheck<SinkRecord> smt(Map<String, String> extra) {
    ContractCheck<SinkRecord> smt = new ContractCheck<>();
    Map<String, String> props = new HashMap<>(extra);
    props.put("schema", SCHEMA);
    smt.configure(props);
    return smt;
  }

  private static SinkRecord record(Object value) {
    return new SinkRecord("fraud-alerts", 0, null, null, null, value, 7);
  }

  private static Map<String, Object> good() {
    Map<String, Object> v = new HashMap<>();
    v.put("alert_id", "high_value:t1");
    v.put("rule", "high_value");
    v.put("severity", "medium");
    v.put("amount", 12.5);
    v.put("currency", "EUR");
    v.put("risk_score", 0.4);
    v.put("reasons", List.of("amount"));
    return v;
  }

  private static String refusal(Map<String, Object> value) {
    return assertThrows(DataException.class, () -> smt(Map.of()).apply(record(value))).getMessage();
  }

  @Test
  void aRecordThatKeepsTheContractPassesUnchanged() {
    SinkRecord r = record(good());
    assertSame(r, smt(Map.of()).apply(r));
    Map<String, Object> optionalNull = good();
    optionalNull.put("currency", null);
    smt(Map.of()).apply(record(optionalNull));
  }

  @Test
  void eachKindOfBreakNamesTheField() {
    Map<String, Object> v = good();
    v.remove("alert_id");
    assertTrue(refusal(v).contains("field 'alert_id' is required"), refusal(v));
    v = good();
    v.put("alert_id", "");
    assertTrue(refusal(v).contains("field 'alert_id' is shorter than 1"));
    v.put("alert_id", "x".repeat(17));
    assertTrue(refusal(v).contains("field 'alert_id' is longer than 16 characters (17)"));
    v = good();
    v.put("severity", "apocalyptic");
    assertTrue(refusal(v).contains("field 'severity' must be one of"));
    v = good();
    v.put("amount", "lots");
    assertTrue(refusal(v).contains("field 'amount' must be number, got \"lots\""));
    v = good();
    v.put("currency", "euro");
    assertTrue(refusal(v).contains("field 'currency' does not match ^[A-Z]{3}$"));
    v = good();
    v.put("risk_score", 1.5);
    assertTrue(refusal(v).contains("field 'risk_score' is above the maximum 1"));
    v = good();
    v.put("reasons", "because");
    assertTrue(refusal(v).contains("field 'reasons' must be array"));
    v.put("reasons", List.of("ok", 3));
    assertTrue(refusal(v).contains("field 'reasons[1]' must be string"));
  }

  @Test
  void notAnObjectAndTombstones() {
    assertTrue(assertThrows(DataException.class, () -> smt(Map.of()).apply(record(List.of("x"))))
        .getMessage().contains("the record must be object"));
    assertTrue(assertThrows(DataException.class, () -> smt(Map.of()).apply(record(null)))
        .getMessage().contains("a tombstone"));
    assertNull(smt(Map.of("tombstones", "allow")).apply(record(null)).value());
  }

  @Test
  void choicesNarrowATextFieldToTheDeployedValues() {
    ContractCheck<SinkRecord> rules = smt(Map.of("choices", "rule=high_value|rapid_burst"));
    rules.apply(record(good()));
    Map<String, Object> v = good();
    v.put("rule", "no_such_rule");
    DataException e = assertThrows(DataException.class, () -> rules.apply(record(v)));
    assertEquals("breaks the record contract: field 'rule' must be one of [high_value, rapid_burst], got \"no_such_rule\"",
        e.getMessage());
    assertThrows(ConfigException.class, () -> smt(Map.of("choices", "rule=")));
    assertThrows(ConfigException.class, () -> new ContractCheck<SinkRecord>().configure(Map.of("schema", "not json")));
  }
}

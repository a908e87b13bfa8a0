package io.github.fraudpipeline.connect.common;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.errors.DataException;

/**
 * Turns a Connect record value into JSON, whatever converter produced it: a Struct (JsonConverter
 * with schemas, Avro), a Map (JsonConverter without schemas), or a String / byte[] holding JSON
 * (StringConverter, ByteArrayConverter). A value that is none of these is a DataException, which
 * the worker's error handling routes to the dead-letter topic.
 */
public final class RecordJson {
  public static final ObjectMapper MAPPER = new ObjectMapper();

  private RecordJson() {}

  public static JsonNode toJson(Object value) {
    if (value == null) {
      return null;
    }
    if (value instanceof String s) {
      return parse(s);
    }
    if (value instanceof byte[] b) {
      return parse(new String(b, StandardCharsets.UTF_8));
    }
    return MAPPER.valueToTree(plain(value));
  }

  /** The object at {@code field} of a JSON object value, or a DataException naming the field. */
  public static String requiredText(JsonNode value, String field) {
    if (value == null || !value.isObject()) {
      throw new DataException("record value is not a JSON object; cannot read field '" + field + "'");
    }
    // A dotted name reads a nested field (transaction.timestamp in a scored transaction).
    JsonNode node = value;
    for (String part : field.split("\\.")) {
      node = node == null ? null : node.get(part);
    }
    if (node == null || node.isNull() || node.asText().isEmpty()) {
      throw new DataException("record value has no field '" + field + "'");
    }
    return node.asText();
  }

  private static JsonNode parse(String text) {
    try {
      return MAPPER.readTree(text);
    } catch (Exception e) {
      throw new DataException("record value is not valid JSON: " + e.getMessage(), e);
    }
  }

  private static Object plain(Object value) {
    if (value instanceof Struct struct) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (Field f : struct.schema().fields()) {
        out.put(f.name(), plain(struct.get(f)));
      }
      return out;
    }
    if (value instanceof Map<?, ?> map) {
      Map<String, Object> out = new LinkedHashMap<>();
      map.forEach((k, v) -> out.put(String.valueOf(k), plain(v)));
      return out;
    }
    if (value instanceof List<?> list) {
      List<Object> out = new ArrayList<>(list.size());
      list.forEach(v -> out.add(plain(v)));
      return out;
    }
    if (value instanceof BigDecimal d) {
      return d;
    }
    return value;
  }

  public static ObjectNode object() {
    return MAPPER.createObjectNode();
  }
}

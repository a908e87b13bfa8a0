package io.github.fraudpipeline.connect.transforms;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.github.fraudpipeline.connect.common.RecordJson;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.transforms.Transformation;

/**
 * Refuses a record that breaks the topic's record contract, so the worker's error handling sends it
 * to the dead-letter queue (with the reason in its headers) instead of a store keeping it. The
 * contract is the JSON Schema fraudctl renders from src/fraudctl/contract.py (the one the schema
 * registry publishes); the subset pydantic writes is checked: {@code type}, {@code required},
 * {@code minLength}/{@code maxLength}, {@code minimum}/{@code maximum} (and exclusive ones),
 * {@code pattern}, {@code enum}, {@code anyOf}, {@code items} and local {@code $ref}s.
 *
 * <p>Expects schemaless JSON (JsonConverter, schemas.enable=false). A tombstone is refused unless
 * {@code tombstones} is {@code allow}: a topic of events is never deleted from.
 */
public class ContractCheck<R extends ConnectRecord<R>> implements Transformation<R> {
  public static final String SCHEMA = "schema";
  public static final String TOMBSTONES = "tombstones";
  public static final String CHOICES = "choices";
  private static final ConfigDef DEF = new ConfigDef()
      .define(SCHEMA, ConfigDef.Type.STRING, ConfigDef.NO_DEFAULT_VALUE, ConfigDef.Importance.HIGH,
          "The record contract as a JSON Schema (draft 2020-12 subset)")
      .define(TOMBSTONES, ConfigDef.Type.STRING, "refuse", ConfigDef.ValidString.in("refuse", "allow"),
          ConfigDef.Importance.MEDIUM, "refuse: a null value is dead-lettered; allow: passed on")
      .define(CHOICES, ConfigDef.Type.LIST, "", ConfigDef.Importance.MEDIUM,
          "field=a|b|c: the values a top-level text field may take in this deployment (the deployed rules)");

  private JsonNode root;
  private boolean allowTombstones;
  private final Map<String, java.util.Set<String>> choices = new java.util.LinkedHashMap<>();

  @Override
  public void configure(Map<String, ?> props) {
    AbstractConfig parsed = new AbstractConfig(DEF, props);
    try {
      root = RecordJson.MAPPER.readTree(parsed.getString(SCHEMA));
    } catch (JsonProcessingException e) {
      throw new ConfigException(SCHEMA, "(schema)", "not JSON: " + e.getOriginalMessage());
    }
    if (!root.isObject()) {
      throw new ConfigException(SCHEMA, "(schema)", "expected a JSON Schema object");
    }
    allowTombstones = "allow".equals(parsed.getString(TOMBSTONES));
    for (String entry : parsed.getList(CHOICES)) {
      String[] parts = entry.split("=", 2);
      if (parts.length != 2 || parts[1].isEmpty()) {
        throw new ConfigException(CHOICES, entry, "expected field=a|b|c");
      }
      choices.put(parts[0].trim(), new java.util.LinkedHashSet<>(List.of(parts[1].split("\\|"))));
    }
  }

  @Override
  public R apply(R record) {
    if (record.value() == null) {
      if (allowTombstones) {
        return record;
      }
      throw new DataException("a tombstone: records of " + record.topic() + " are never deleted");
    }
    JsonNode value = RecordJson.toJson(record.value());
    List<String> problems = new ArrayList<>();
    check(root, value, "", problems);
    if (problems.isEmpty() && value.isObject()) {
      for (Map.Entry<String, java.util.Set<String>> c : choices.entrySet()) {
        JsonNode field = value.get(c.getKey());
        if (field != null && !field.isNull() && !c.getValue().contains(field.asText())) {
          problems.add("field '" + c.getKey() + "' must be one of " + c.getValue() + ", got " + describe(field));
        }
      }
    }
    if (!problems.isEmpty()) {
      throw new DataException("breaks the record contract: " + String.join("; ", problems));
    }
    return record;
  }

  /** Appends the first problem of {@code value} against {@code schema} at {@code path}. */
  void check(JsonNode schema, JsonNode value, String path, List<String> problems) {
    if (schema.has("$ref")) {
      schema = resolve(schema.get("$ref").asText());
    }
    String where = path.isEmpty() ? "the record" : "field '" + path + "'";
    if (schema.has("anyOf")) {
      for (JsonNode option : schema.get("anyOf")) {
        List<String> sub = new ArrayList<>();
        check(option, value, path, sub);
        if (sub.isEmpty()) {
          return;
        }
      }
      // The non-null alternative explains it best (anyOf [{...}, {type: null}] is "optional").
      for (JsonNode option : schema.get("anyOf")) {
        if (!"null".equals(option.path("type").asText())) {
          check(option, value, path, problems);
          if (!problems.isEmpty()) {
            return;
          }
        }
      }
      problems.add(where + " matches none of its alternatives");
      return;
    }
    if (schema.has("type") && !typeMatches(schema.get("type").asText(), value)) {
      problems.add(where + " must be " + schema.get("type").asText() + ", got " + describe(value));
      return;
    }
    if (schema.has("enum")) {
      boolean found = false;
      for (JsonNode allowed : schema.get("enum")) {
        found |= allowed.equals(value);
      }
      if (!found) {
        problems.add(where + " must be one of " + schema.get("enum") + ", got " + describe(value));
        return;
      }
    }
    if (value.isTextual()) {
      int length = value.asText().codePointCount(0, value.asText().length());
      if (schema.has("minLength") && length < schema.get("minLength").asInt()) {
        problems.add(where + " is shorter than " + schema.get("minLength").asInt() + " characters");
      } else if (schema.has("maxLength") && length > schema.get("maxLength").asInt()) {
        problems.add(where + " is longer than " + schema.get("maxLength").asInt() + " characters (" + length + ")");
      } else if (schema.has("pattern") && !Pattern.compile(schema.get("pattern").asText()).matcher(value.asText()).find()) {
        problems.add(where + " does not match " + schema.get("pattern").asText() + ": " + describe(value));
      }
    } else if (value.isNumber()) {
      double v = value.asDouble();
      if (Double.isNaN(v) || Double.isInfinite(v)) {
        problems.add(where + " is not a finite number");
      } else if (schema.has("minimum") && v < schema.get("minimum").asDouble()) {
        problems.add(where + " is below the minimum " + schema.get("minimum") + ": " + value);
      } else if (schema.has("maximum") && v > schema.get("maximum").asDouble()) {
        problems.add(where + " is above the maximum " + schema.get("maximum") + ": " + value);
      } else if (schema.has("exclusiveMinimum") && v <= schema.get("exclusiveMinimum").asDouble()) {
        problems.add(where + " must be greater than " + schema.get("exclusiveMinimum") + ": " + value);
      } else if (schema.has("exclusiveMaximum") && v >= schema.get("exclusiveMaximum").asDouble()) {
        problems.add(where + " must be less than " + schema.get("exclusiveMaximum") + ": " + value);
      }
    } else if (value.isArray() && schema.has("items")) {
      for (int i = 0; i < value.size() && problems.isEmpty(); i++) {
        check(schema.get("items"), value.get(i), path + "[" + i + "]", problems);
      }
    } else if (value.isObject()) {
      for (JsonNode name : schema.path("required")) {
        if (!value.has(name.asText()) || value.get(name.asText()).isNull()) {
          problems.add("field '" + prefix(path) + name.asText() + "' is required but missing");
          return;
        }
      }
      JsonNode properties = schema.path("properties");
      for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext() && problems.isEmpty(); ) {
        Map.Entry<String, JsonNode> field = it.next();
        if (properties.has(field.getKey())) {
          check(properties.get(field.getKey()), field.getValue(), prefix(path) + field.getKey(), problems);
        } else if (schema.path("additionalProperties").isBoolean() && !schema.get("additionalProperties").asBoolean()) {
          problems.add("field '" + prefix(path) + field.getKey() + "' is not part of the contract");
        }
      }
    }
  }

  private JsonNode resolve(String ref) {
    if (!ref.startsWith("#/")) {
      throw new DataException("only local $refs are supported: " + ref);
    }
    JsonNode node = root;
    for (String part : ref.substring(2).split("/")) {
      node = node.path(part);
    }
    if (node.isMissingNode()) {
      throw new DataException("unresolved $ref " + ref);
    }
    return node;
  }

  private static String prefix(String path) {
    return path.isEmpty() ? "" : path + ".";
  }

  private static boolean typeMatches(String type, JsonNode value) {
    return switch (type) {
      case "string" -> value.isTextual();
      case "number" -> value.isNumber();
      case "integer" -> value.isIntegralNumber();
      case "boolean" -> value.isBoolean();
      case "array" -> value.isArray();
      case "object" -> value.isObject();
      case "null" -> value.isNull();
      default -> true;
    };
  }

  private static String describe(JsonNode value) {
    String text = value.toString();
    return text.length() > 60 ? text.substring(0, 60) + "... (" + text.length() + " characters)" : text;
  }

  @Override
  public ConfigDef config() {
    return DEF;
  }

  @Override
  public void close() {}
}

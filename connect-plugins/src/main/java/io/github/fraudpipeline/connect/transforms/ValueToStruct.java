package io.github.fraudpipeline.connect.transforms;

import io.github.fraudpipeline.connect.common.RecordJson;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.transforms.Transformation;

/**
 * Gives a schemaless JSON value (a Map from JsonConverter with schemas.enable=false) the schema
 * declared in config, so sinks that need one (JDBC) can write plain-JSON topics. Only the declared
 * fields are kept; a missing field is null; a value that is not a JSON object is a DataException
 * (the worker's error handling sends it to the dead-letter queue). Tombstones pass through.
 *
 * <p>{@code fields}: comma-separated {@code name:type}, type one of string, int64, float64, boolean.
 * A non-string value declared as string is written as its JSON text. {@code required}: fields that
 * must not be null.
 */
public class ValueToStruct<R extends ConnectRecord<R>> implements Transformation<R> {
  public static final String FIELDS = "fields";
  public static final String REQUIRED = "required";
  private static final ConfigDef DEF = new ConfigDef()
      .define(FIELDS, ConfigDef.Type.LIST, ConfigDef.NO_DEFAULT_VALUE, ConfigDef.Importance.HIGH,
          "name:type pairs, type string|int64|float64|boolean")
      .define(REQUIRED, ConfigDef.Type.LIST, "", ConfigDef.Importance.HIGH,
          "Fields that must not be null (the target's NOT NULL columns): a record without one is a DataException, "
              + "which the worker sends to the dead-letter queue instead of failing the sink on the insert.");

  private Schema schema;
  private Map<String, Schema.Type> types;
  private Set<String> required;

  @Override
  public void configure(Map<String, ?> props) {
    AbstractConfig parsed = new AbstractConfig(DEF, props);
    List<String> fields = parsed.getList(FIELDS);
    required = new LinkedHashSet<>(parsed.getList(REQUIRED));
    SchemaBuilder builder = SchemaBuilder.struct().name("fraudpipeline.Value");
    types = new LinkedHashMap<>();
    for (String field : fields) {
      String[] parts = field.trim().split(":");
      if (parts.length != 2) {
        throw new ConfigException(FIELDS, field, "expected name:type");
      }
      Schema.Type type = switch (parts[1].trim()) {
        case "string" -> Schema.Type.STRING;
        case "int64" -> Schema.Type.INT64;
        case "float64" -> Schema.Type.FLOAT64;
        case "boolean" -> Schema.Type.BOOLEAN;
        default -> throw new ConfigException(FIELDS, field, "type must be string, int64, float64 or boolean");
      };
      String name = parts[0].trim();
      types.put(name, type);
      SchemaBuilder fieldSchema = SchemaBuilder.type(type);
      builder.field(name, required.contains(name) ? fieldSchema.build() : fieldSchema.optional().build());
    }
    Set<String> unknown = new LinkedHashSet<>(required);
    unknown.removeAll(types.keySet());
    if (!unknown.isEmpty()) {
      throw new ConfigException(REQUIRED, String.join(",", unknown), "not among the declared fields");
    }
    schema = builder.build();
  }

  @Override
  public R apply(R record) {
    if (record.value() == null) {
      return record;
    }
    if (!(record.value() instanceof Map<?, ?> map)) {
      throw new DataException("ValueToStruct expects a schemaless JSON object, got "
          + record.value().getClass().getSimpleName());
    }
    Struct struct = new Struct(schema);
    for (Map.Entry<String, Schema.Type> e : types.entrySet()) {
      Object value = convert(e.getKey(), e.getValue(), map.get(e.getKey()));
      if (value == null && required.contains(e.getKey())) {
        throw new DataException("field '" + e.getKey() + "' is required (a NOT NULL column) but is missing or null");
      }
      struct.put(e.getKey(), value);
    }
    return record.newRecord(record.topic(), record.kafkaPartition(), record.keySchema(), record.key(), schema,
        struct, record.timestamp());
  }

  private static Object convert(String name, Schema.Type type, Object value) {
    if (value == null) {
      return null;
    }
    try {
      return switch (type) {
        case STRING -> value instanceof String s ? s : RecordJson.MAPPER.writeValueAsString(value);
        case INT64 -> ((Number) value).longValue();
        case FLOAT64 -> ((Number) value).doubleValue();
        case BOOLEAN -> (Boolean) value;
        default -> throw new DataException("unsupported type " + type);
      };
    } catch (ClassCastException | com.fasterxml.jackson.core.JsonProcessingException ex) {
      throw new DataException("field '" + name + "' is not a " + type.getName() + ": " + value, ex);
    }
  }

  @Override
  public ConfigDef config() {
    return DEF;
  }

  @Override
  public void close() {}
}

package io.github.fraudpipeline.connect.search;

import java.util.Map;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;
import org.apache.kafka.common.config.types.Password;

/** Settings of {@link SearchSinkConnector}; every key is documented so Connect's validate endpoint explains it. */
public final class SearchSinkConfig extends AbstractConfig {
  public static final String URL = "connection.url";
  public static final String USERNAME = "connection.username";
  public static final String PASSWORD = "connection.password";
  public static final String INDEX = "index";
  public static final String ID_FIELD = "document.id.field";
  public static final String NULL_VALUES = "behavior.on.null.values";
  public static final String MAX_RETRIES = "max.retries";
  public static final String BACKOFF_MS = "retry.backoff.ms";
  public static final String BACKOFF_MAX_MS = "retry.backoff.max.ms";
  public static final String TIMEOUT_MS = "request.timeout.ms";

  public static final ConfigDef DEF =
      new ConfigDef()
          .define(URL, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, new ConfigDef.NonEmptyString(),
              Importance.HIGH, "Base URL of Elasticsearch or OpenSearch, for example http://127.0.0.1:9200.")
          .define(USERNAME, Type.STRING, "", Importance.MEDIUM, "Basic-auth user; empty for none.")
          .define(PASSWORD, Type.PASSWORD, "", Importance.MEDIUM, "Basic-auth password; use a ConfigProvider reference.")
          .define(INDEX, Type.STRING, "", Importance.HIGH, "Target index; empty means the topic name.")
          .define(ID_FIELD, Type.STRING, "", Importance.HIGH,
              "Value field used as document id, so a re-delivered record overwrites its document. Empty: the record key,"
                  + " or topic+partition+offset when there is no key.")
          .define(NULL_VALUES, Type.STRING, "delete", ConfigDef.ValidString.in("delete", "ignore"),
              Importance.LOW, "What a tombstone does: delete the document with the key as id, or nothing.")
          .define(MAX_RETRIES, Type.INT, 8, ConfigDef.Range.atLeast(0), Importance.LOW,
              "Retries of one bulk request inside put() before handing the batch back to the worker to retry.")
          .define(BACKOFF_MS, Type.LONG, 200L, ConfigDef.Range.atLeast(1), Importance.LOW, "First retry back-off.")
          .define(BACKOFF_MAX_MS, Type.LONG, 10_000L, ConfigDef.Range.atLeast(1), Importance.LOW, "Back-off cap.")
          .define(TIMEOUT_MS, Type.INT, 30_000, ConfigDef.Range.atLeast(1), Importance.LOW, "HTTP request timeout.");

  public SearchSinkConfig(Map<String, String> props) {
    super(DEF, props);
  }

  public String url() {
    String u = getString(URL);
    return u.endsWith("/") ? u.substring(0, u.length() - 1) : u;
  }

  public String password() {
    Password p = getPassword(PASSWORD);
    return p == null ? "" : p.value();
  }
}

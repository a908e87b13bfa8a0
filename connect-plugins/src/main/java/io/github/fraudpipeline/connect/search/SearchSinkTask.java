package io.github.fraudpipeline.connect.search;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.fraudpipeline.connect.common.Backoff;
import io.github.fraudpipeline.connect.common.RecordJson;
import io.github.fraudpipeline.connect.common.Version;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.DataException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.ErrantRecordReporter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTask;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One bulk request per put(). Delivery rules: an unreachable or overloaded server (connection
 * error, 429, 5xx) is retried with back-off and then handed back to the worker as a
 * RetriableException, so the same batch comes again and nothing is dropped. A document the server
 * rejects (4xx item, for example a mapping conflict) goes to the dead-letter queue through the
 * errant-record reporter; without a DLQ the task fails rather than lose it.
 */
public class SearchSinkTask extends SinkTask {
  private static final Logger log = LoggerFactory.getLogger(SearchSinkTask.class);

  private SearchSinkConfig config;
  private HttpClient http;
  private String auth;
  private ErrantRecordReporter reporter;

  @Override
  public String version() {
    return Version.VERSION;
  }

  @Override
  public void start(Map<String, String> props) {
    config = new SearchSinkConfig(props);
    http = HttpClient.newBuilder()
        .connectTimeout(Duration.ofMillis(config.getInt(SearchSinkConfig.TIMEOUT_MS)))
        .version(HttpClient.Version.HTTP_1_1)
        .build();
    String user = config.getString(SearchSinkConfig.USERNAME);
    auth = user.isEmpty() ? null : "Basic " + Base64.getEncoder()
        .encodeToString((user + ":" + config.password()).getBytes(StandardCharsets.UTF_8));
    try {
      reporter = context.errantRecordReporter();
    } catch (NoSuchMethodError | NoClassDefFoundError e) {
      reporter = null;
    }
  }

  @Override
  public void put(Collection<SinkRecord> records) {
    if (records.isEmpty()) {
      return;
    }
    List<SinkRecord> sent = new ArrayList<>(records.size());
    StringBuilder body = new StringBuilder();
    for (SinkRecord r : records) {
      try {
        appendAction(body, r);
        sent.add(r);
      } catch (DataException e) {
        reject(r, e);
      }
    }
    if (sent.isEmpty()) {
      return;
    }
    JsonNode response = bulkWithRetries(body.toString());
    if (response.path("errors").asBoolean(false)) {
      JsonNode items = response.path("items");
      for (int i = 0; i < items.size() && i < sent.size(); i++) {
        JsonNode item = items.get(i).elements().next();
        int status = item.path("status").asInt(200);
        if (status == 404 && item.has("result") && "not_found".equals(item.path("result").asText())) {
          continue; // deleting a document that is not there is already the desired state
        }
        if (status >= 300) {
          reject(sent.get(i), new DataException("index rejected document (" + status + "): " + item.path("error")));
        }
      }
    }
  }

  private void appendAction(StringBuilder body, SinkRecord r) {
    String index = config.getString(SearchSinkConfig.INDEX);
    if (index.isEmpty()) {
      index = r.topic();
    }
    ObjectNode meta = RecordJson.object();
    ObjectNode action = RecordJson.object();
    meta.put("_index", index);
    if (r.value() == null) {
      if (!"delete".equals(config.getString(SearchSinkConfig.NULL_VALUES)) || r.key() == null) {
        return;
      }
      meta.put("_id", String.valueOf(r.key()));
      action.set("delete", meta);
      body.append(action).append('\n');
      return;
    }
    JsonNode value = RecordJson.toJson(r.value());
    if (value == null || !value.isObject()) {
      throw new DataException("record value is not a JSON object");
    }
    meta.put("_id", documentId(r, value));
    action.set("index", meta);
    body.append(action).append('\n').append(value).append('\n');
  }

  private String documentId(SinkRecord r, JsonNode value) {
    String field = config.getString(SearchSinkConfig.ID_FIELD);
    if (!field.isEmpty()) {
      return RecordJson.requiredText(value, field);
    }
    if (r.key() != null) {
      return String.valueOf(r.key());
    }
    return r.topic() + "+" + r.kafkaPartition() + "+" + r.kafkaOffset();
  }

  private JsonNode bulkWithRetries(String body) {
    int max = config.getInt(SearchSinkConfig.MAX_RETRIES);
    Exception last = null;
    for (int attempt = 0; attempt <= max; attempt++) {
      try {
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(config.url() + "/_bulk"))
            .timeout(Duration.ofMillis(config.getInt(SearchSinkConfig.TIMEOUT_MS)))
            .header("Content-Type", "application/x-ndjson")
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (auth != null) {
          req.header("Authorization", auth);
        }
        HttpResponse<String> resp = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
        int code = resp.statusCode();
        if (code == 200) {
          return RecordJson.MAPPER.readTree(resp.body());
        }
        if (code == 429 || code >= 500) {
          last = new ConnectException("bulk request answered " + code + ": " + abbreviate(resp.body()));
        } else {
          // A 4xx on the whole request is a configuration problem (bad URL, auth): retrying cannot help.
          throw new ConnectException("bulk request refused with " + code + ": " + abbreviate(resp.body()));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new RetriableException("interrupted", e);
      } catch (ConnectException e) {
        throw e;
      } catch (Exception e) {
        last = e;
      }
      long delay = Backoff.delayMs(attempt, config.getLong(SearchSinkConfig.BACKOFF_MS),
          config.getLong(SearchSinkConfig.BACKOFF_MAX_MS));
      log.warn("bulk request to {} failed (attempt {} of {}), retrying in {} ms: {}",
          config.url(), attempt + 1, max + 1, delay, last.toString());
      sleep(delay);
    }
    throw new RetriableException("search server unavailable after " + (max + 1) + " attempts", last);
  }

  private void reject(SinkRecord r, Exception e) {
    if (reporter == null) {
      throw new ConnectException("cannot write record " + r.topic() + "/" + r.kafkaPartition() + "@"
          + r.kafkaOffset() + " and no dead-letter queue is configured", e);
    }
    reporter.report(r, e);
  }

  private static String abbreviate(String s) {
    return s.length() > 500 ? s.substring(0, 500) + "..." : s;
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new RetriableException("interrupted", e);
    }
  }

  @Override
  public void stop() {}
}

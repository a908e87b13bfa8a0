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
import java.util.HashSet;
import java.util.List;
import java.util.Set;
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
 * error, 429, 5xx on the request) is retried with back-off; so is each item the server refuses
 * for overload (an item status 429 or 5xx), alone. After the retries the batch is handed back to
 * the worker as a RetriableException with a pause, so the same batch comes again and nothing is
 * dropped; records of it already written or dead-lettered are skipped then. A document the server
 * rejects (a 4xx item, for example a mapping conflict) goes to the dead-letter queue through the
 * errant-record reporter; without a DLQ the task fails rather than lose it. Response items are
 * matched to exactly the records that were sent (a tombstone with deletes off sends nothing).
 */
public class SearchSinkTask extends SinkTask {
  private static final Logger log = LoggerFactory.getLogger(SearchSinkTask.class);

  private SearchSinkConfig config;
  private HttpClient http;
  private String auth;
  private ErrantRecordReporter reporter;
  private final Set<Settled> settled = new HashSet<>();

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

  /** One record's bulk action (its action line, and the document line for an index). */
  private record Action(SinkRecord record, String lines) {}

  @Override
  public void put(Collection<SinkRecord> records) {
    List<Action> pending = new ArrayList<>(records.size());
    for (SinkRecord r : records) {
      if (settled.remove(new Settled(r.topic(), r.kafkaPartition(), r.kafkaOffset()))) {
        continue; // written or dead-lettered before the worker delivered this batch again
      }
      try {
        String lines = action(r);
        if (lines != null) {
          pending.add(new Action(r, lines));
        }
      } catch (DataException e) {
        reject(r, e);
        settle(r);
      }
    }
    int max = config.getInt(SearchSinkConfig.MAX_RETRIES);
    for (int attempt = 0; !pending.isEmpty(); attempt++) {
      StringBuilder body = new StringBuilder();
      pending.forEach(a -> body.append(a.lines()));
      JsonNode items = bulkWithRetries(body.toString()).path("items");
      List<Action> again = new ArrayList<>();
      for (int i = 0; i < pending.size(); i++) {
        Action a = pending.get(i);
        JsonNode item = i < items.size() ? items.get(i).elements().next() : null;
        int status = item == null ? 500 : item.path("status").asInt(200);
        if (status == 429 || status >= 500) {
          again.add(a); // the node is overloaded (or did not answer for it): the item is retried
        } else if (status == 404 && "not_found".equals(item.path("result").asText())) {
          settle(a.record()); // deleting a document that is not there is already the desired state
        } else if (status >= 300) {
          reject(a.record(), new DataException("index rejected document (" + status + "): " + item.path("error")));
          settle(a.record());
        } else {
          settle(a.record());
        }
      }
      pending = again;
      if (pending.isEmpty()) {
        break;
      }
      long delay = Backoff.delayMs(attempt, config.getLong(SearchSinkConfig.BACKOFF_MS),
          config.getLong(SearchSinkConfig.BACKOFF_MAX_MS));
      if (attempt >= max) {
        // The worker delivers the whole batch again after the pause; what is settled is skipped then.
        context.timeout(delay);
        throw new RetriableException(pending.size() + " documents refused for overload (429) after " + (max + 1)
            + " attempts; retrying in " + delay + " ms");
      }
      log.warn("{} documents refused for overload, retrying them in {} ms (attempt {} of {})", pending.size(), delay,
          attempt + 1, max + 1);
      sleep(delay);
    }
    settled.clear(); // the whole batch is done: nothing of it can come again
  }

  private void settle(SinkRecord r) {
    settled.add(new Settled(r.topic(), r.kafkaPartition(), r.kafkaOffset()));
  }

  /** A record already written or dead-lettered in a batch the worker may deliver again. */
  private record Settled(String topic, Integer partition, long offset) {}

  /** The bulk lines of one record, or null when it asks for nothing (a tombstone, deletes off). */
  private String action(SinkRecord r) {
    String index = config.getString(SearchSinkConfig.INDEX);
    if (index.isEmpty()) {
      index = r.topic();
    }
    ObjectNode meta = RecordJson.object();
    ObjectNode action = RecordJson.object();
    meta.put("_index", index);
    if (r.value() == null) {
      if (!"delete".equals(config.getString(SearchSinkConfig.NULL_VALUES)) || r.key() == null) {
        return null;
      }
      meta.put("_id", String.valueOf(r.key()));
      action.set("delete", meta);
      return action + "\n";
    }
    JsonNode value = RecordJson.toJson(r.value());
    if (value == null || !value.isObject()) {
      throw new DataException("record value is not a JSON object");
    }
    meta.put("_id", documentId(r, value));
    action.set("index", meta);
    return action + "\n" + value + "\n";
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
  public void close(Collection<org.apache.kafka.common.TopicPartition> partitions) {
    settled.clear(); // a batch of a closed partition is never delivered again to this task
  }

  @Override
  public void stop() {}
}

package io.github.fraudpipeline.connect.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.github.fraudpipeline.connect.common.FakeContext;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The bulk sink against a stub server on loopback that answers scripted bulk responses. */
class SearchSinkTaskTest {
  private HttpServer server;
  private final Deque<String> answers = new ArrayDeque<>();
  private final List<String> requests = new ArrayList<>();
  private final FakeContext context = new FakeContext();

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext("/_bulk", exchange -> {
      requests.add(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
      byte[] body = answers.removeFirst().getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private SearchSinkTask task(String nullValues) {
    SearchSinkTask task = new SearchSinkTask();
    task.initialize(context);
    task.start(Map.of(
        "connection.url", "http://127.0.0.1:" + server.getAddress().getPort(),
        "index", "fraud-alerts",
        "document.id.field", "alert_id",
        "behavior.on.null.values", nullValues,
        "max.retries", "2",
        "retry.backoff.ms", "1"));
    return task;
  }

  private static SinkRecord alert(long offset, String id) {
    return new SinkRecord("fraud-alerts", 0, null, id, null, "{\"alert_id\":\"" + id + "\"}", offset);
  }

  private static String items(int... statuses) {
    StringBuilder out = new StringBuilder("{\"errors\":true,\"items\":[");
    for (int i = 0; i < statuses.length; i++) {
      out.append(i == 0 ? "" : ",").append("{\"index\":{\"status\":").append(statuses[i])
          .append(statuses[i] >= 300 ? ",\"error\":{\"type\":\"x\"}" : "").append("}}");
    }
    return out.append("]}").toString();
  }

  /** Issue 15: a skipped tombstone was still matched against the response items. */
  @Test
  void aTombstoneThatSendsNothingDoesNotShiftTheResults() {
    answers.add(items(201, 400));
    SinkRecord tombstone = new SinkRecord("fraud-alerts", 0, null, "gone", null, null, 0);
    task("ignore").put(List.of(tombstone, alert(1, "a"), alert(2, "b")));
    assertEquals(1, context.deadLetters.size());
    assertEquals(2, context.deadLetters.get(0).record().kafkaOffset(), "the rejected document is b, not a");
  }

  /** Issue 15: an item refused for overload (429) went to the dead-letter queue for good. */
  @Test
  void anItemRefusedForOverloadIsRetriedAloneNotDeadLettered() {
    answers.add(items(201, 429));
    answers.add(items(201));
    task("delete").put(List.of(alert(0, "a"), alert(1, "b")));
    assertEquals(List.of(), context.deadLetters);
    assertEquals(2, requests.size());
    assertTrue(requests.get(1).contains("\"b\"") && !requests.get(1).contains("\"a\""), requests.get(1));
  }

  @Test
  void persistentOverloadHandsTheBatchBackAndTheRedeliveryResendsOnlyWhatIsLeft() {
    answers.add(items(201, 429, 400));
    answers.add(items(429));
    answers.add(items(429));
    SearchSinkTask task = task("delete");
    List<SinkRecord> batch = List.of(alert(0, "a"), alert(1, "b"), alert(2, "c"));
    assertThrows(RetriableException.class, () -> task.put(batch));
    assertEquals(1, context.timeouts.size(), "the worker pauses before delivering again");
    answers.add(items(201));
    task.put(batch); // the worker delivers the same batch again
    assertEquals(4, requests.size());
    assertTrue(requests.get(3).contains("\"b\"") && !requests.get(3).contains("\"a\"")
        && !requests.get(3).contains("\"c\""), requests.get(3));
    assertEquals(1, context.deadLetters.size(), "c is dead-lettered once, not on every delivery");
  }
}

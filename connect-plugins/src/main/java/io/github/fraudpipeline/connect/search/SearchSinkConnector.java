package io.github.fraudpipeline.connect.search;

import io.github.fraudpipeline.connect.common.Version;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.apache.kafka.connect.sink.SinkConnector;

/** Indexes record values into Elasticsearch or OpenSearch through the _bulk API. */
public class SearchSinkConnector extends SinkConnector {
  private Map<String, String> props;

  @Override
  public void start(Map<String, String> props) {
    new SearchSinkConfig(props); // fail at start, not in the task, on a bad config
    this.props = props;
  }

  @Override
  public Class<? extends Task> taskClass() {
    return SearchSinkTask.class;
  }

  @Override
  public List<Map<String, String>> taskConfigs(int maxTasks) {
    List<Map<String, String>> out = new ArrayList<>();
    for (int i = 0; i < maxTasks; i++) {
      out.add(props);
    }
    return out;
  }

  @Override
  public void stop() {}

  @Override
  public ConfigDef config() {
    return SearchSinkConfig.DEF;
  }

  @Override
  public String version() {
    return Version.VERSION;
  }
}

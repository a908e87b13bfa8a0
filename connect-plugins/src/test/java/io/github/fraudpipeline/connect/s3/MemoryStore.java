package io.github.fraudpipeline.connect.s3;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/** An object store in memory that can be taken down, like the object store behind a proxy. */
final class MemoryStore implements ObjectStore {
  final TreeMap<String, String> objects = new TreeMap<>();
  boolean down;
  int puts;

  @Override
  public void put(String key, byte[] body, String contentType) {
    check();
    puts++;
    objects.put(key, new String(body, StandardCharsets.UTF_8));
  }

  @Override
  public List<String> list(String prefix) {
    check();
    return objects.keySet().stream().filter(k -> k.startsWith(prefix)).toList();
  }

  @Override
  public void delete(List<String> keys) {
    check();
    keys.forEach(objects::remove);
  }

  private void check() {
    if (down) {
      throw new IllegalStateException("connection refused");
    }
  }

  /** Every archived line, in key order (duplicates kept). */
  List<String> lines() {
    List<String> out = new ArrayList<>();
    for (String body : objects.values()) {
      out.addAll(body.lines().toList());
    }
    return out;
  }

  @Override
  public void close() {}
}

package io.github.fraudpipeline.connect.s3;

import java.util.List;

/**
 * The three calls the archive task makes of an object store. The task is written against this,
 * so its put / flush / preCommit behaviour is unit-tested against an in-memory store that can be
 * made to fail, the way connector projects test against a stub client.
 */
public interface ObjectStore extends AutoCloseable {
  void put(String key, byte[] body, String contentType);

  /** Every key that starts with {@code prefix}, in key order. */
  List<String> list(String prefix);

  void delete(List<String> keys);

  @Override
  void close();
}

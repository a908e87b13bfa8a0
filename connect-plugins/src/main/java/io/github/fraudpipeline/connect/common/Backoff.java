package io.github.fraudpipeline.connect.common;

/** Exponential back-off with a cap: the sleep before retry {@code attempt} (0-based). */
public final class Backoff {
  private Backoff() {}

  public static long delayMs(int attempt, long initialMs, long maxMs) {
    long d = initialMs << Math.min(attempt, 20);
    return Math.min(d, maxMs);
  }
}

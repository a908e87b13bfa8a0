package io.github.fraudpipeline.connect.common;

public final class Version {
  public static final String VERSION = "0.1.0";

  private Version() {}
}

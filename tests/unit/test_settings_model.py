"""The typed environment model (fraudctl.config.settings) against the JSON Schema `validate` uses,
and the one Kafka connection model against every kind of client it configures."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudctl.config.project import copy_declarations, load_project
from fraudctl.config.settings import FLINK_KAFKA_SHADE, Settings, SettingsError, settings_from
from fraudctl.render.pipeline import render_environment

ROOT = Path(__file__).resolve().parents[2]


def _schema_tree(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """{key: (required, subtree)} of a schema object; leaves are {}."""
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    if node.get("type") != "object" or "properties" not in node:
        return {}
    required = set(node.get("required", []))
    return {k: (k in required, _schema_tree(v, defs)) for k, v in node["properties"].items()}


def _model_tree(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in node:  # X | None
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        node = options[0] if len(options) == 1 else node
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[1]]
    if node.get("title") == "Secret":
        return {}  # a reference string in the files
    if node.get("type") != "object" or "properties" not in node:
        return {}
    required = set(node.get("required", []))
    return {k: (k in required, _model_tree(v, defs)) for k, v in node["properties"].items()}


def test_the_schema_and_the_model_agree_key_by_key() -> None:
    schema = yaml.safe_load((ROOT / "schemas/environment.schema.yaml").read_text())
    model = Settings.model_json_schema()
    want = _schema_tree(schema, schema.get("$defs", {}))
    want.pop("extends")  # merged away before the model is built
    got = _model_tree(model, model.get("$defs", {}))
    # `name` is required by the schema; the model takes it from the file name where absent.
    got["name"] = (True, {})
    assert got == want


def test_every_environment_fits_the_model() -> None:
    project, problems = load_project(ROOT)
    assert not problems
    for name in project.environment_names():
        assert project.settings(name).name == name


def test_a_bad_key_is_named() -> None:
    with pytest.raises(SettingsError, match=r"'x': kafka.security_protocol"):
        settings_from(
            "x",
            {
                "engine": "flink",
                "connector_profile": "oss",
                "connect": {"url": "http://c:1"},
                "kafka": {"bootstrap_servers": "k:1", "security_protocol": "TLS"},
            },
        )
    with pytest.raises(SettingsError, match=r"postgres.password: Value error, expected a reference"):
        settings_from(
            "x",
            {
                "engine": "flink",
                "connector_profile": "oss",
                "connect": {"url": "http://c:1"},
                "kafka": {"bootstrap_servers": "k:1"},
                "postgres": {"host": "h", "port": 1, "database": "d", "user": "u", "password": "plain"},
            },
        )


@pytest.fixture
def prod(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "kafka-secret")
    project, _ = load_project(ROOT)
    return project.settings("prod")


def test_secrets_appear_only_as_references(prod: Settings) -> None:
    assert "kafka-secret" not in repr(prod) and "kafka-secret" not in prod.model_dump_json()
    assert "${env:KAFKA_SASL_PASSWORD}" in repr(prod.kafka.sasl)


def test_kafka_settings_are_the_same_for_librdkafka_and_java_clients(prod: Settings) -> None:
    rd = prod.kafka.librdkafka()
    java = prod.kafka.java(resolved=True)
    assert rd["bootstrap.servers"] == java["bootstrap.servers"] == "kafka-prod.internal:9093"
    assert rd["security.protocol"] == java["security.protocol"] == "SASL_SSL"
    assert rd["sasl.mechanism"] == java["sasl.mechanism"] == "SCRAM-SHA-512"
    module = r"org\.apache\.kafka\.common\.security\.scram\.ScramLoginModule"
    jaas = re.fullmatch(module + r' required username="([^"]+)" password="([^"]+)";', java["sasl.jaas.config"])
    assert jaas and (jaas.group(1), jaas.group(2)) == (rd["sasl.username"], rd["sasl.password"])
    assert rd["sasl.password"] == "kafka-secret"
    assert rd["ssl.ca.location"] == java["ssl.truststore.location"] == "/etc/fraud/tls/ca.pem"
    assert java["ssl.truststore.type"] == "PEM"
    # Unresolved, the Java properties carry the reference (resolved by the engine's reader).
    assert "${env:KAFKA_SASL_PASSWORD}" in prod.kafka.java()["sasl.jaas.config"]


def test_flink_sql_carries_exactly_the_java_properties(tmp_path: Path, prod: Settings) -> None:
    home = copy_declarations(ROOT, tmp_path / "repo")
    project, _ = load_project(home)
    rendered, problems = render_environment(project, "prod")
    assert not problems
    sql = rendered.files["flink/pipeline.sql"]
    block = sql[sql.index("'properties.bootstrap.servers'") :].split("\n")
    props = {}
    for line in block:
        m = re.match(r"\s*'properties\.([^']+)' = '((?:[^']|'')*)',?$", line)
        if not m:
            break
        props[m.group(1)] = m.group(2).replace("''", "'")
    props.pop("group.id")  # the source's own, after the connection's
    assert props.pop("isolation.level") == "read_committed"  # the source's too: sinks write transactions
    # Flink's SQL connector relocates the Kafka client: the login module is the relocated class.
    assert props == prod.kafka.java(shaded=FLINK_KAFKA_SHADE)
    assert props["sasl.jaas.config"].startswith(FLINK_KAFKA_SHADE + "org.apache.kafka.common.security.scram.")
    jar = next((ROOT / ".local/opt").glob("flink-*/lib/flink-sql-connector-kafka-*.jar"), None)
    if jar is not None:  # the installed connector holds that class (checked where the stack is set up)
        import zipfile

        cls = props["sasl.jaas.config"].split()[0].replace(".", "/") + ".class"
        assert cls in zipfile.ZipFile(jar).namelist()
    # PLAINTEXT environments get the bootstrap servers only.
    local = project.settings("local")
    assert local.kafka.java() == {"bootstrap.servers": "127.0.0.1:9092"}


def test_the_model_is_frozen(prod: Settings) -> None:
    with pytest.raises(Exception, match="frozen"):
        prod.engine = "flink"  # type: ignore[misc]

"""The typed model of one environment (environments/NAME.yaml after `extends:` is merged).

Every command reads an environment through this model, built once per command (see
`fraudctl.cli.context`); templates receive it as `env`. Secrets are held as their references
(`${env:NAME}`, `${file:PATH:KEY}`) and resolved only where a client is made (`Secret.resolve`),
so a repr, a log line or a rendered file can only ever show the reference.

`schemas/environment.schema.yaml` says the same for `validate` (with file and line numbers);
tests/unit/test_settings_model.py checks that the two agree key by key."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from fraudctl.config.secrets import is_reference, resolve


class SettingsError(Exception):
    """An environment that does not fit the model; the message names the environment and the key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _reference(value: str) -> str:
    if not is_reference(value):
        raise ValueError("expected a reference such as ${env:NAME} or ${file:PATH:KEY}, never a value")
    return value


class Secret(_Model):
    """A secret by reference. `str()` and `repr()` give the reference; `resolve()` the value."""

    ref: Annotated[str, AfterValidator(_reference)]

    def resolve(self) -> str:
        return resolve(self.ref)

    def __str__(self) -> str:
        return self.ref

    def __repr__(self) -> str:
        return f"Secret({self.ref})"


def _secret(value: Any) -> Any:
    return {"ref": value} if isinstance(value, str) else value


SecretRef = Annotated[Secret, BeforeValidator(_secret)]


def _url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return value


Url = Annotated[str, AfterValidator(_url)]
Duration = Annotated[str, Field(pattern=r"^[0-9]+(ms|s|m|h|d)$")]


class BasicAuth(_Model):
    username: str
    password: SecretRef

    def pair(self) -> tuple[str, str]:
        """(user, password) with the password resolved: only for the client that sends it."""
        return (self.username, self.password.resolve())


class HttpService(_Model):
    """Every HTTP endpoint has the same shape: a URL and, where the service asks for it, basic auth."""

    url: Url
    auth: BasicAuth | None = None

    def auth_pair(self) -> tuple[str, str] | None:
        return self.auth.pair() if self.auth else None

    @property
    def port(self) -> int:
        return _port(self.url)

    @property
    def host(self) -> str:
        return urlparse(self.url).hostname or "127.0.0.1"


def _port(url: str) -> int:
    parsed = urlparse(url if "://" in url else f"tcp://{url}")
    if parsed.port is not None:
        return parsed.port
    return 443 if parsed.scheme == "https" else 80


class Ksqldb(HttpService):
    prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")] = ""


class Flink(_Model):
    rest_url: Url
    sql_gateway_url: Url
    auth: BasicAuth | None = None
    # Where the job keeps its keyed state (the per-user windows). `hashmap`: objects on the
    # TaskManager's heap, no (de)serialisation per access; the state must fit in the heap and every
    # checkpoint copies all of it. `rocksdb`: on local disk through managed memory, for state larger
    # than memory, incremental checkpoints, a serialisation and a native call per access. Unset: the
    # cluster's own default. Measured side by side on the local stack (2 cores): the rules kept up
    # with 300 tx/s on hashmap (p50 10.7 s, every alert) and fell behind on rocksdb (p50 59 s, 162
    # of 240 alerts by the deadline).
    state_backend: Literal["hashmap", "rocksdb"] | None = None
    # How long a task may hold a partly filled network buffer before sending it on (Flink's
    # execution.buffer-timeout.interval, 100 ms by default). A row released by the watermark crosses
    # seven keyed stages, each a network hop: at 100 ms the rules' verdicts came 0.5 s after the
    # allowed lateness, at 5 ms 0.2 s (measured, 100 tx/s). Shorter: more, smaller sends under load.
    buffer_timeout: Duration | None = None

    def auth_pair(self) -> tuple[str, str] | None:
        return self.auth.pair() if self.auth else None


class Scoring(_Model):
    url: Url
    token: SecretRef | None = None
    # A transaction the model scores at least this high raises a model alert, whatever the rules say.
    risk_threshold: Annotated[float, Field(ge=0, le=1)] = 0.8
    model_alert_severity: Literal["low", "medium", "high", "critical"] = "high"

    @property
    def port(self) -> int:
        return _port(self.url)


class PostgresRole(_Model):
    user: str
    password: SecretRef


class PostgresRoles(_Model):
    """Least privilege: the pipeline writes with `writer` (Connect sinks, CDC replication); analysts'
    queries read with `analyst`. The DDL (postgres/) grants each only what it needs; `postgres.user`
    owns the tables and runs that DDL."""

    writer: PostgresRole
    analyst: PostgresRole


class Postgres(_Model):
    host: str
    port: Annotated[int, Field(ge=1, le=65535)]
    database: str
    user: str
    password: SecretRef
    roles: PostgresRoles | None = None

    def login(self, purpose: Literal["owner", "writer", "analyst"]) -> PostgresRole:
        """The user and password reference of a purpose (the owner's where no roles are declared);
        templates call it too: `env.postgres.login("writer").user`."""
        if purpose != "owner" and self.roles is not None:
            role: PostgresRole = getattr(self.roles, purpose)
            return role
        return PostgresRole(user=self.user, password=self.password)

    def role(self, purpose: Literal["owner", "writer", "analyst"]) -> tuple[str, Secret]:
        login = self.login(purpose)
        return login.user, login.password

    def conninfo(self, purpose: Literal["owner", "writer", "analyst"], application: str) -> str:
        from psycopg.conninfo import make_conninfo

        user, password = self.role(purpose)
        return make_conninfo(
            host=self.host,
            port=self.port,
            dbname=self.database,
            user=user,
            password=password.resolve(),
            application_name=application,
            connect_timeout=10,
        )


class S3(_Model):
    endpoint: Url | None = None
    region: str
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    access_key_id: SecretRef | None = None
    secret_access_key: SecretRef | None = None


class TopicDefaults(_Model):
    partitions: Annotated[int, Field(ge=1)] | None = None
    replication: Annotated[int, Field(ge=1)] = 1


class TopicOverride(_Model):
    partitions: Annotated[int, Field(ge=1)] | None = None
    replication: Annotated[int, Field(ge=1)] | None = None
    retention: Duration | None = None


class Topics(_Model):
    defaults: TopicDefaults = TopicDefaults()
    overrides: dict[str, TopicOverride] = {}


class Stream(_Model):
    allowed_lateness: Duration = "5s"
    dedup_window: Duration = "1d"
    # How the Flink job's Kafka sinks write: exactly once (a transaction per checkpoint: nothing
    # re-emitted on restore, rows visible to read_committed readers when the checkpoint completes)
    # or at least once (rows visible at once; a restore re-emits up to a checkpoint interval, which
    # the sinks absorb by upserting on alert_id).
    delivery_guarantee: Literal["exactly-once", "at-least-once"] = "exactly-once"
    # How often the Flink job checkpoints its state: what a restore replays from, and (exactly
    # once) how long a detection waits before readers see it.
    checkpoint_interval: Duration = "10s"
    # A transaction stamped further ahead of the engine's clock is dead-lettered, not evaluated:
    # one such row on every partition would move the watermark that far, and every real row
    # after it would be late.
    max_clock_skew: Duration = "5m"
    # How long a partition of `transactions` may deliver nothing before it stops holding back the
    # watermark. After an outage (broker, producers) partitions resume one after another: one
    # already idle would let the others move the watermark past its backlog, and those rows would
    # all be late. Longer: a partition that is really quiet delays the rules that long.
    partition_idle_timeout: Duration = "60s"
    # Low latency: a rule verdict no later-arriving earlier row can change (a rule template's
    # `on_arrival` condition, e.g. high_value's fixed threshold) is alerted as soon as the
    # transaction arrives, instead of after the watermark (allowed_lateness) like the windowed
    # rules. Such an alert carries no context (the history is not complete on arrival), so the
    # enrichment step scores it without history features; the transaction's enriched record (and
    # its rules_fired) still comes after the watermark. Off: every alert waits for the watermark.
    decide_on_arrival: bool = False
    # How far back the per-transaction features look (contract.TransactionContext: the user's
    # average, previous transaction, usual location, whether a device or merchant is new).
    feature_history: Duration = "30d"


class LocalStack(_Model):
    """Only for the embedded stack: ports no client uses, and memory."""

    kafka_controller_port: int
    search_transport_port: int
    flink_rpc_port: int
    # The object store and the search cluster listen here; their endpoints above are fault-injection
    # proxies in front of them (localstack/faultproxy.py), so a test can make them unreachable.
    s3_backend_port: int
    search_backend_port: int
    heap_mb: dict[str, Annotated[int, Field(ge=64)]] = {}


# Kafka ---------------------------------------------------------------------------------------------

# flink-sql-connector-kafka relocates the Kafka client: JAAS must name the relocated class.
FLINK_KAFKA_SHADE = "org.apache.flink.kafka.shaded."
# Flink's exactly-once Kafka sinks hold a transaction open for a checkpoint interval; the client's
# default (1 h) is refused by brokers at their default transaction.max.timeout.ms (15 min).
FLINK_TRANSACTION_TIMEOUT_MS = 600_000

_LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "OAUTHBEARER": "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule",
}


class KafkaSasl(_Model):
    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
    username: str
    password: SecretRef


class KafkaSsl(_Model):
    ca_location: str | None = None
    certificate_location: str | None = None
    key_location: str | None = None
    key_password: SecretRef | None = None


Bootstrap = Annotated[str, Field(pattern=r"^[^,\s]+:[0-9]+(,[^,\s]+:[0-9]+)*$")]
Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]


class KafkaReader(_Model):
    """The analysts' principal (`fraudctl query`): ACLs that `fraudctl apply` keeps let it only
    consume. Fields left out are the pipeline's connection's (in production usually only `sasl`
    differs; the local stack gives it a SASL listener of its own)."""

    bootstrap_servers: Bootstrap | None = None
    security_protocol: Protocol | None = None
    sasl: KafkaSasl
    ssl: KafkaSsl | None = None


class KafkaConnection(_Model):
    """One Kafka connection, written for every kind of client from the same fields: librdkafka
    (the admin client, producers, the enrichment step) and Java properties (Flink and ksqlDB SQL,
    Connect workers, ksqlDB servers), so a CA or a SASL mechanism can never reach one and not the other."""

    bootstrap_servers: Bootstrap
    security_protocol: Protocol = "PLAINTEXT"
    sasl: KafkaSasl | None = None
    ssl: KafkaSsl | None = None

    def librdkafka(self, resolved: bool = True) -> dict[str, str]:
        """librdkafka settings; secrets resolved (librdkafka has no config providers), or as their
        references where the reader resolves them itself (`resolved=False`)."""
        conf = {"bootstrap.servers": self.bootstrap_servers}
        if self.security_protocol != "PLAINTEXT":
            conf["security.protocol"] = self.security_protocol
        if self.sasl:
            conf["sasl.mechanism"] = self.sasl.mechanism
            if self.sasl.mechanism == "OAUTHBEARER":
                conf["sasl.oauthbearer.client.id"] = self.sasl.username
                conf["sasl.oauthbearer.client.secret"] = _value(self.sasl.password, resolved)
            else:
                conf["sasl.username"] = self.sasl.username
                conf["sasl.password"] = _value(self.sasl.password, resolved)
        if self.ssl:
            if self.ssl.ca_location:
                conf["ssl.ca.location"] = self.ssl.ca_location
            if self.ssl.certificate_location:
                conf["ssl.certificate.location"] = self.ssl.certificate_location
            if self.ssl.key_location:
                conf["ssl.key.location"] = self.ssl.key_location
            if self.ssl.key_password:
                conf["ssl.key.password"] = _value(self.ssl.key_password, resolved)
        return conf

    def java(self, resolved: bool = False, shaded: str = "") -> dict[str, str]:
        """Java client properties (what Flink's `properties.*`, Connect and ksqlDB read). Secrets stay
        references by default: Connect resolves them with its ConfigProviders, and fraudctl resolves
        the ones in SQL at submission (`resolve_embedded`), masking them in every message. `shaded`
        prefixes the login module's class for a connector that relocates the Kafka client (Flink's
        SQL Kafka connector: FLINK_KAFKA_SHADE)."""
        props = {"bootstrap.servers": self.bootstrap_servers}
        if self.security_protocol != "PLAINTEXT":
            props["security.protocol"] = self.security_protocol
        if self.sasl:
            props["sasl.mechanism"] = self.sasl.mechanism
            module = shaded + _LOGIN_MODULES[self.sasl.mechanism]
            if self.sasl.mechanism == "OAUTHBEARER":
                props["sasl.jaas.config"] = (
                    f'{module} required clientId="{self.sasl.username}" '
                    f'clientSecret="{_value(self.sasl.password, resolved)}";'
                )
            else:
                props["sasl.jaas.config"] = (
                    f'{module} required username="{self.sasl.username}" '
                    f'password="{_value(self.sasl.password, resolved)}";'
                )
        if self.ssl:
            # Java clients read a PEM CA file directly (KIP-651), so the same file serves both kinds.
            if self.ssl.ca_location:
                props["ssl.truststore.type"] = "PEM"
                props["ssl.truststore.location"] = self.ssl.ca_location
            if self.ssl.certificate_location and self.ssl.key_location:
                props["ssl.keystore.type"] = "PEM"
                props["ssl.keystore.location"] = self.ssl.certificate_location
                props["ssl.keystore.key.location"] = self.ssl.key_location
            if self.ssl.key_password:
                props["ssl.key.password"] = _value(self.ssl.key_password, resolved)
        return props


def _value(secret: Secret, resolved: bool) -> str:
    return secret.resolve() if resolved else secret.ref


class Kafka(KafkaConnection):
    """The pipeline's connection, and the analysts' read-only one (`analyst`)."""

    analyst: KafkaReader | None = None

    def connection(self, purpose: Literal["pipeline", "analyst"]) -> KafkaConnection:
        """The connection a purpose uses (the pipeline's where no analyst principal is declared)."""
        base = KafkaConnection(
            bootstrap_servers=self.bootstrap_servers,
            security_protocol=self.security_protocol,
            sasl=self.sasl,
            ssl=self.ssl,
        )
        if purpose == "pipeline" or self.analyst is None:
            return base
        a = self.analyst
        return KafkaConnection(
            bootstrap_servers=a.bootstrap_servers or base.bootstrap_servers,
            security_protocol=a.security_protocol or base.security_protocol,
            sasl=a.sasl,
            ssl=a.ssl or base.ssl,
        )


# The environment -------------------------------------------------------------------------------------


class Settings(_Model):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    engine: Literal["flink", "ksqldb"]
    connector_profile: Literal["oss", "confluent"]
    kafka: Kafka
    connect: HttpService
    ksqldb: Ksqldb | None = None
    flink: Flink | None = None
    schema_registry: HttpService | None = None
    postgres: Postgres | None = None
    search: HttpService | None = None
    s3: S3 | None = None
    scoring: Scoring | None = None
    topics: Topics = Topics()
    stream: Stream = Stream()
    detections: dict[str, dict[str, Any]] = {}
    local_stack: LocalStack | None = None

    def need(self, section: str) -> Any:
        """A section the caller cannot work without: a clear error naming it when it is absent."""
        value = getattr(self, section)
        if value is None:
            raise SettingsError(f"environment {self.name!r}: `{section}` is required here but not declared")
        return value


def settings_from(name: str, value: Any) -> Settings:
    """The typed model of a merged environment document; problems name the environment and key."""
    if not isinstance(value, dict):
        raise SettingsError(f"environment {name!r}: expected a mapping at the top level")
    data = {k: v for k, v in value.items() if k != "extends"}
    data.setdefault("name", name)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if p != "ref")
        raise SettingsError(f"environment {name!r}: {where}: {first['msg']}") from None

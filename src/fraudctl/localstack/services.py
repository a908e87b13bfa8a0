"""The services of the local stack, built from the `local` environment's endpoints.

Each service says which ports it binds, how to prepare its folders (idempotent), how to start it,
and how to tell it is ready. Start order follows `after`."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import requests
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # exported without __all__
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from fraudctl.config.environment import Environment
from fraudctl.config.settings import LocalStack, Postgres, Scoring
from fraudctl.localstack import health
from fraudctl.localstack import secrets as local_secrets
from fraudctl.localstack.health import Check
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.process import ProcessSpec, running_pid

# PostgreSQL and Elasticsearch refuse to run as root; when fraudctl runs as root they run as this user.
STACK_USER = "fraudstack"
HOST = "127.0.0.1"


class StackError(Exception):
    """A service that cannot start; the message names the service, the port and the log file."""


@dataclass(frozen=True)
class Service:
    name: str
    ports: tuple[int, ...]
    spec: Callable[[], ProcessSpec]
    check: Check
    prepare: Callable[[], None] = lambda: None
    after_start: Callable[[], None] = lambda: None
    after: tuple[str, ...] = ()
    start_timeout: float = 120.0
    requires: tuple[Path, ...] = field(default=())
    # Why this service is not started (an optional service nothing installed); None: it is started.
    skip: str | None = None


def _render(layout: Layout, template: str, target: Path, **values: object) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(layout.repo / "templates" / "stack"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(env.get_template(template).render(**values))


def java_home() -> Path:
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    if not java:
        raise StackError("java not found on PATH and JAVA_HOME not set: install a JDK 17+")
    return Path(os.path.realpath(java)).parents[1]


def postgres_bindir() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("postgres")
    if found:
        return Path(found).parent
    raise StackError("postgres: PostgreSQL server binaries not found (Debian package 'postgresql')")


def stack_user() -> str | None:
    """The user PostgreSQL and Elasticsearch run as (None when not root); looks, creates nothing."""
    return STACK_USER if os.geteuid() == 0 else None


def ensure_stack_user() -> str | None:
    """Creates the unprivileged system user when running as root; None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(STACK_USER)
    except KeyError:
        subprocess.run(  # noqa: S603
            ["useradd", "--system", "--create-home", "--shell", "/usr/sbin/nologin", STACK_USER], check=True
        )
    return STACK_USER


def _run_as(user: str | None) -> dict[str, Any]:
    """subprocess arguments that run a command as `user` with that user's own group and no other.
    `user=` alone keeps root's group, and a folder like /root (mode 701 once made traversable) then
    denies it: the group bits apply to a member of the folder's group, not the others' bits."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for p in [path, *path.rglob("*")]:
        if p.is_symlink():
            continue
        os.chown(p, entry.pw_uid, entry.pw_gid)


def _make_traversable(path: Path) -> None:
    """The stack user must be able to reach its folders under the repo: give others +x on parents."""
    for parent in [path, *path.parents]:
        try:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
        except PermissionError:
            break


def build_services(env: Environment, layout: Layout, secrets: dict[str, str], user: str | None) -> list[Service]:
    """Every service's spec: ports, command, environment, health check, what to prepare before the
    first start. Building them has no side effect (`prepare` runs only on `up`)."""
    jhome = java_home()
    java = str(jhome / "bin" / "java")
    typed = env.settings
    local: LocalStack = typed.need("local_stack")
    pg: Postgres = typed.need("postgres")
    kafka_port = env.port_of("kafka.bootstrap_servers")
    bootstrap = f"{HOST}:{kafka_port}"
    analyst = typed.kafka.analyst
    analyst_port = env.port_of("kafka.analyst.bootstrap_servers") if analyst and analyst.bootstrap_servers else None
    controller_port = local.kafka_controller_port
    connect_port = env.port_of("connect.url")
    pg_port = pg.port
    pg_db = pg.database
    pg_user = pg.user
    search_port = env.port_of("search.url")
    search_transport = local.search_transport_port
    s3_port = env.port_of("s3.endpoint")
    flink_rest = env.port_of("flink.rest_url")
    flink_gateway = env.port_of("flink.sql_gateway_url")
    flink_rpc = local.flink_rpc_port
    heap = dict(local.heap_mb)
    kafka_cp = f"{layout.kafka_lib}/*"
    log4j = layout.conf / "log4j2.properties"

    def common_prepare() -> None:
        _render(layout, "log4j2.properties.j2", log4j)

    # --- Kafka (KRaft, single combined node) -------------------------------------------------
    kafka_data = layout.data / "kafka"
    kafka_conf = layout.conf / "kafka.properties"

    def kafka_prepare() -> None:
        common_prepare()
        _render(
            layout,
            "kafka.properties.j2",
            kafka_conf,
            host=HOST,
            port=kafka_port,
            controller_port=controller_port,
            analyst_port=analyst_port,
            data_dir=kafka_data,
        )
        if not (kafka_data / "meta.properties").is_file():
            kafka_data.mkdir(parents=True, exist_ok=True)
            uuid = subprocess.run(  # noqa: S603
                [java, "-cp", kafka_cp, "kafka.tools.StorageTool", "random-uuid"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            res = subprocess.run(  # noqa: S603
                [
                    java,
                    f"-Dlog4j2.configurationFile={log4j}",
                    "-cp",
                    kafka_cp,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    uuid,
                    "-c",
                    str(kafka_conf),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if res.returncode != 0:
                raise StackError(f"kafka: formatting {kafka_data} failed: {res.stdout}{res.stderr}")

    def kafka_after_start() -> None:
        # The analysts' SCRAM login (its password generated like every local secret); upserted on
        # every start, so a rotated password takes effect. What it may do: ACLs, kept by apply.
        if analyst is None:
            return
        name = local_secrets.env_name(analyst.sasl.password)
        if not name or name not in secrets:
            raise StackError(f"{env.path}: kafka.analyst.sasl.password: expected ${{env:NAME}} of a local secret")
        admin = AdminClient({"bootstrap.servers": bootstrap})
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096)
        upsert = UserScramCredentialUpsertion(analyst.sasl.username, info, secrets[name].encode())
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=30)

    kafka = Service(
        name="kafka",
        ports=(kafka_port, controller_port, *((analyst_port,) if analyst_port else ())),
        prepare=kafka_prepare,
        after_start=kafka_after_start,
        spec=lambda: ProcessSpec(
            "kafka",
            [
                java,
                f"-Xms{heap.get('kafka', 512)}m",
                f"-Xmx{heap.get('kafka', 512)}m",
                f"-Dlog4j2.configurationFile={log4j}",
                "-cp",
                kafka_cp,
                "kafka.Kafka",
                str(kafka_conf),
            ],
            layout.logs / "kafka.log",
            layout.root,
        ),
        check=health.kafka_ready(bootstrap),
        requires=(layout.kafka_lib,),
    )

    # --- Kafka Connect (distributed worker) ---------------------------------------------------
    connect_conf = layout.conf / "connect-distributed.properties"
    # The worker gets the secrets its connectors name (the writer's password, the object store's
    # keys), not the owner's password or the scoring token.
    connect_refs: list[object] = [pg.login("writer").password]
    if typed.s3:
        connect_refs += [typed.s3.access_key_id, typed.s3.secret_access_key]
    for service in (typed.search, typed.schema_registry):
        if service and service.auth:
            connect_refs.append(service.auth.password)
    connect_env = {
        name: secrets[name] for name in map(local_secrets.env_name, connect_refs) if name and name in secrets
    }

    def connect_prepare() -> None:
        common_prepare()
        _render(
            layout,
            "connect-distributed.properties.j2",
            connect_conf,
            host=HOST,
            port=connect_port,
            bootstrap=bootstrap,
            plugin_path=layout.plugins,
            env_names=sorted(connect_env),  # exactly what the worker gets as its environment (env= below)
            kafka=typed.kafka.java(),
        )

    connect = Service(
        name="connect",
        ports=(connect_port,),
        prepare=connect_prepare,
        spec=lambda: ProcessSpec(
            "connect",
            [
                java,
                f"-Xms{heap.get('connect', 768)}m",
                f"-Xmx{heap.get('connect', 768)}m",
                f"-Dlog4j2.configurationFile={log4j}",
                "-cp",
                kafka_cp,
                "org.apache.kafka.connect.cli.ConnectDistributed",
                str(connect_conf),
            ],
            layout.logs / "connect.log",
            layout.root,
            env=connect_env,
        ),
        check=health.http_ok(f"http://{HOST}:{connect_port}/connectors"),
        after=("kafka",),
        start_timeout=180,
        requires=(layout.kafka_lib, layout.plugins),
    )

    # --- PostgreSQL ---------------------------------------------------------------------------
    pg_data = layout.data / "postgres"
    pg_socket = layout.run / "pg-socket"

    def pg_prepare() -> None:
        bindir = postgres_bindir()
        _make_traversable(layout.root)
        pg_socket.mkdir(parents=True, exist_ok=True)
        _chown_tree(pg_socket, user)
        if not (pg_data / "PG_VERSION").is_file():
            pg_data.mkdir(parents=True, exist_ok=True)
            pwfile = layout.run / "pg-initpw"
            local_secrets.write_private(pwfile, secrets["FRAUD_PG_PASSWORD"] + "\n")
            _chown_tree(pg_data, user)
            _chown_tree(pwfile, user)
            res = subprocess.run(  # noqa: S603
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(pg_data),
                    "-U",
                    pg_user,
                    "--pwfile",
                    str(pwfile),
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                capture_output=True,
                text=True,
                check=False,
                cwd=pg_data,  # not the caller's folder, which the stack user may not read
                **_run_as(user),
            )
            pwfile.unlink(missing_ok=True)
            if res.returncode != 0:
                raise StackError(f"postgres: initdb into {pg_data} failed: {res.stdout}{res.stderr}")
        # Written on every start, so a data folder made before this rule gets it too: a password
        # (SCRAM) for every connection, the socket included; nothing else is accepted.
        hba = pg_data / "pg_hba.conf"
        hba.write_text(
            "# Written by fraudctl local up (services.py); do not edit.\n"
            "local all all scram-sha-256\n"
            f"host all all {HOST}/32 scram-sha-256\n"
            "local replication all scram-sha-256\n"
            f"host replication all {HOST}/32 scram-sha-256\n"
        )
        _chown_tree(hba, user)

    def pg_after_start() -> None:
        psql = str(postgres_bindir() / "psql")
        base = [psql, "-h", str(pg_socket), "-p", str(pg_port), "-U", pg_user, "-d", "postgres", "-tAc"]
        owner_env = {**os.environ, "PGPASSWORD": secrets["FRAUD_PG_PASSWORD"]}
        exists = subprocess.run(  # noqa: S603
            [*base, f"SELECT 1 FROM pg_database WHERE datname = '{pg_db}'"],
            capture_output=True,
            text=True,
            check=False,
            env=owner_env,
        )
        if exists.stdout.strip() != "1":
            subprocess.run(  # noqa: S603
                [*base, f'CREATE DATABASE "{pg_db}"'], capture_output=True, check=True, env=owner_env
            )

    postgres = Service(
        name="postgres",
        ports=(pg_port,),
        prepare=pg_prepare,
        after_start=pg_after_start,
        spec=lambda: ProcessSpec(
            "postgres",
            [
                str(postgres_bindir() / "postgres"),
                "-D",
                str(pg_data),
                "-p",
                str(pg_port),
                "-k",
                str(pg_socket),
                "-c",
                f"listen_addresses={HOST}",
                "-c",
                "wal_level=logical",
                "-c",
                "max_wal_senders=10",
                "-c",
                "max_replication_slots=10",
                "-c",
                "shared_buffers=64MB",
                "-c",
                "max_connections=100",
            ],
            layout.logs / "postgres.log",
            layout.root,
            user=user,
        ),
        check=health.postgres_ready(str(postgres_bindir() / "pg_isready"), HOST, pg_port),
        start_timeout=60,
    )

    # --- Elasticsearch --------------------------------------------------------------------------
    es_home = layout.elasticsearch_home
    es_data = layout.data / "search"
    es_logs = layout.logs / "search"
    es_tmp = layout.run / "search-tmp"

    es_conf = layout.conf / "search"

    def es_prepare() -> None:
        _make_traversable(layout.root)
        for d in (es_data, es_logs, es_tmp, es_conf):
            d.mkdir(parents=True, exist_ok=True)
        # Our own config folder (ES_PATH_CONF): the distribution's stays pristine, and Elasticsearch's
        # security auto-configuration never runs because security is set explicitly.
        for name in ("jvm.options", "log4j2.properties"):
            shutil.copy2(es_home / "config" / name, es_conf / name)
        _render(
            layout,
            "elasticsearch.yml.j2",
            es_conf / "elasticsearch.yml",
            host=HOST,
            http_port=search_port,
            transport_port=search_transport,
            data_dir=es_data,
            logs_dir=es_logs,
        )
        for d in (es_data, es_logs, es_tmp, es_conf):
            _chown_tree(d, user)

    search_heap = heap.get("search", 512)
    search = Service(
        name="search",
        ports=(search_port, search_transport),
        prepare=es_prepare,
        spec=lambda: ProcessSpec(
            "search",
            [str(es_home / "bin" / "elasticsearch")],
            layout.logs / "search.log",
            layout.root,
            env={
                "ES_PATH_CONF": str(es_conf),
                "ES_JAVA_HOME": str(jhome),
                "ES_JAVA_OPTS": f"-Xms{search_heap}m -Xmx{search_heap}m",
                "ES_TMPDIR": str(es_tmp),
            },
            user=user,
        ),
        check=health.http_ok(
            f"http://{HOST}:{search_port}/_cluster/health",
            lambda r: None if r.json().get("status") in ("green", "yellow") else f"status {r.json().get('status')}",
        ),
        start_timeout=180,
        requires=(es_home,),
    )

    # --- S3-compatible object store -------------------------------------------------------------
    def s3_after_start() -> None:
        # The local environment's archive bucket exists from the start (in AWS it is provisioned
        # with the account); moto keeps buckets in memory, so this runs on every start.
        bucket = typed.need("s3").bucket
        requests.put(f"http://{HOST}:{s3_port}/{bucket}", timeout=10)

    s3 = Service(
        name="s3",
        ports=(s3_port,),
        after_start=s3_after_start,
        spec=lambda: ProcessSpec(
            "s3",
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(s3_port)],
            layout.logs / "s3.log",
            layout.root,
        ),
        check=health.http_ok(f"http://{HOST}:{s3_port}/moto-api/"),
        start_timeout=60,
    )

    # --- Flink session cluster and SQL Gateway --------------------------------------------------
    flink_home = layout.flink_home
    flink_conf = layout.conf / "flink"
    flink_env = {
        "FLINK_CONF_DIR": str(flink_conf),
        "FLINK_LOG_DIR": str(layout.logs / "flink"),
        "JAVA_HOME": str(jhome),
        "FLINK_HOME": str(flink_home),
    }

    def flink_prepare() -> None:
        _render(
            layout,
            "flink-config.yaml.j2",
            flink_conf / "config.yaml",
            host=HOST,
            rpc_port=flink_rpc,
            rest_port=flink_rest,
            gateway_port=flink_gateway,
            data_dir=layout.data / "flink",
            jobmanager_mb=heap.get("flink_jobmanager", 768),
            taskmanager_mb=heap.get("flink_taskmanager", 1536),
        )
        for name in (
            "log4j-console.properties",
            "log4j.properties",
            "log4j-cli.properties",
            "log4j-session.properties",
        ):
            shutil.copy2(flink_home / "conf" / name, flink_conf / name)
        (layout.logs / "flink").mkdir(parents=True, exist_ok=True)

    def overview(r: requests.Response, want_tm: bool) -> str | None:
        if want_tm and int(r.json().get("taskmanagers", 0)) < 1:
            return "no TaskManager registered yet"
        return None

    flink_jm = Service(
        name="flink-jobmanager",
        ports=(flink_rest, flink_rpc),
        prepare=flink_prepare,
        spec=lambda: ProcessSpec(
            "flink-jobmanager",
            [str(flink_home / "bin" / "jobmanager.sh"), "start-foreground"],
            layout.logs / "flink-jobmanager.log",
            layout.root,
            env=flink_env,
        ),
        check=health.http_ok(f"http://{HOST}:{flink_rest}/overview", lambda r: overview(r, False)),
        requires=(flink_home,),
    )
    flink_tm = Service(
        name="flink-taskmanager",
        ports=(),
        spec=lambda: ProcessSpec(
            "flink-taskmanager",
            [str(flink_home / "bin" / "taskmanager.sh"), "start-foreground"],
            layout.logs / "flink-taskmanager.log",
            layout.root,
            env=flink_env,
        ),
        check=health.http_ok(f"http://{HOST}:{flink_rest}/overview", lambda r: overview(r, True)),
        after=("flink-jobmanager",),
        requires=(flink_home,),
    )
    gateway_heap = heap.get("flink_sql_gateway", 384)
    flink_gw = Service(
        name="flink-sql-gateway",
        ports=(flink_gateway,),
        spec=lambda: ProcessSpec(
            "flink-sql-gateway",
            [
                str(flink_home / "bin" / "sql-gateway.sh"),
                "start-foreground",
                f"-Dsql-gateway.endpoint.rest.address={HOST}",
                f"-Dsql-gateway.endpoint.rest.port={flink_gateway}",
            ],
            layout.logs / "flink-sql-gateway.log",
            layout.root,
            env={**flink_env, "JVM_ARGS": f"-Xmx{gateway_heap}m"},
        ),
        check=health.http_ok(f"http://{HOST}:{flink_gateway}/v1/info"),
        after=("flink-taskmanager",),
        requires=(flink_home,),
    )
    # --- Scoring service and the enrichment step (udf_service/) -----------------------------------
    scoring_settings: Scoring = typed.need("scoring")
    scoring_port = scoring_settings.port
    model = layout.repo / "udf_service" / "models" / "current"
    token_var = (local_secrets.env_name(scoring_settings.token) if scoring_settings.token else None) or ""
    token_env = {token_var: secrets.get(token_var, "")}

    def scoring_prepare() -> None:
        if token_var not in local_secrets.NAMES:
            raise StackError(
                f"{env.path}: scoring.token: the local stack generates the service's token; expected "
                f"${{env:NAME}} with NAME one of {', '.join(local_secrets.NAMES)}"
            )

    scoring = Service(
        name="scoring",
        ports=(scoring_port,),
        prepare=scoring_prepare,
        spec=lambda: ProcessSpec(
            "scoring",
            [
                sys.executable,
                "-m",
                "udf_service",
                "--host",
                HOST,
                "--port",
                str(scoring_port),
                "--model",
                str(model),
                "--token-env",
                token_var,
            ],
            layout.logs / "scoring.log",
            layout.root,
            env=token_env,
        ),
        check=health.http_ok(f"http://{HOST}:{scoring_port}/readyz"),
        start_timeout=60,
        requires=(model,),
    )

    def enrichment_running() -> health.Health:
        pid = running_pid(layout.run, "enrichment")
        return health.Health(pid is not None, f"consuming (pid {pid})" if pid else "not running")

    enrichment = Service(
        name="enrichment",
        ports=(),
        spec=lambda: ProcessSpec(
            "enrichment",
            [
                sys.executable,
                "-m",
                "udf_service.enrichment",
                "--bootstrap",
                bootstrap,
                "--scoring-url",
                f"http://{HOST}:{scoring_port}",
                "--token",
                str(scoring_settings.token),
                *(
                    f"--kafka-property={k}={v}"
                    for k, v in typed.kafka.librdkafka(resolved=False).items()
                    if k != "bootstrap.servers"
                ),
            ],
            layout.logs / "enrichment.log",
            layout.root,
            env=token_env,
        ),
        check=enrichment_running,
        after=("kafka", "scoring"),
        start_timeout=30,
    )
    ksqldb = _ksqldb_service(env, layout, bootstrap, heap.get("ksqldb", 1024), jhome)
    return [kafka, postgres, search, s3, flink_jm, connect, flink_tm, flink_gw, scoring, enrichment, ksqldb]


# An installation's start script, as Confluent Platform and the ksqlDB tarballs lay it out.
KSQLDB_START = Path("bin") / "ksql-server-start"


def ksqldb_home() -> tuple[Path | None, str]:
    """The ksqlDB installation named by KSQLDB_HOME, or None with the reason why not."""
    home = os.environ.get("KSQLDB_HOME")
    if not home:
        return None, (
            "no ksqlDB installation: set KSQLDB_HOME to a Confluent Platform or ksqlDB tarball install "
            f"(with {KSQLDB_START}) to run it here; the engine `ksqldb` environments need it"
        )
    if not (Path(home) / KSQLDB_START).is_file():
        return None, f"KSQLDB_HOME={home} has no {KSQLDB_START}: not a ksqlDB installation"
    return Path(home), ""


def _ksqldb_service(env: Environment, layout: Layout, bootstrap: str, heap_mb: int, jhome: Path) -> Service:
    """ksqlDB, when a local installation is there (no registry serves it): its own state folder and
    service id, on the stack's Kafka, listening on the `ksqldb.url` of the environment."""
    port = env.port_of("ksqldb.url")
    home, reason = ksqldb_home()
    conf = layout.conf / "ksql-server.properties"

    def prepare() -> None:
        _render(
            layout,
            "ksql-server.properties.j2",
            conf,
            host=HOST,
            port=port,
            kafka=env.settings.kafka.java(),
            state_dir=layout.data / "ksqldb",
        )

    return Service(
        name="ksqldb",
        ports=(port,),
        prepare=prepare,
        spec=lambda: ProcessSpec(
            "ksqldb",
            [str((home or Path(".")) / KSQLDB_START), str(conf)],
            layout.logs / "ksqldb.log",
            layout.root,
            env={
                "KSQL_HEAP_OPTS": f"-Xms{heap_mb}m -Xmx{heap_mb}m",
                "JAVA_HOME": str(jhome),
                "LOG_DIR": str(layout.logs / "ksqldb"),
            },  # fmt: skip
        ),
        check=health.http_ok(f"http://{HOST}:{port}/info", _ksqldb_running),
        after=("kafka",),
        start_timeout=120,
        skip=None if home else reason,
    )


def _ksqldb_running(r: requests.Response) -> str | None:
    status = r.json().get("KsqlServerInfo", {}).get("serverStatus")
    return None if status == "RUNNING" else f"server status {status}"

"""Pure logic of the local stack: no service needed."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from fraudctl.config.environment import Environment, EnvironmentError_, load_environment
from fraudctl.localstack import process, secrets
from fraudctl.localstack.health import port_free
from fraudctl.localstack.process import ProcessSpec
from fraudctl.localstack.services import Service, StackError
from fraudctl.localstack.stack import _waves


def _svc(name: str, *after: str) -> Service:
    return Service(
        name=name,
        ports=(),
        spec=lambda: ProcessSpec(name, ["true"], Path("/dev/null"), Path("/")),
        check=lambda: None,
        after=after,
    )  # type: ignore[arg-type,return-value]


def test_waves_respect_dependencies() -> None:
    waves = _waves([_svc("gateway", "tm"), _svc("kafka"), _svc("connect", "kafka"), _svc("tm", "jm"), _svc("jm")])
    assert [[s.name for s in w] for w in waves] == [["kafka", "jm"], ["connect", "tm"], ["gateway"]]


def test_waves_reject_a_cycle() -> None:
    with pytest.raises(StackError, match="dependency cycle"):
        _waves([_svc("a", "b"), _svc("b", "a")])


def test_ports_come_from_the_local_environment() -> None:
    env = load_environment("local")
    assert env.port_of("kafka.bootstrap_servers") == 9092
    assert env.port_of("connect.url") == 8083
    assert env.port_of("flink.sql_gateway_url") == 8082
    assert env.host_of("search.url") == "127.0.0.1"


def test_endpoint_without_port_is_an_error_naming_the_key(tmp_path: Path) -> None:
    local = load_environment("local")
    raw = {**local.raw, "connect": {"url": "http://connect"}}
    raw.pop("kafka")
    env = Environment("x", tmp_path / "x.yaml", raw, local.settings)
    with pytest.raises(EnvironmentError_, match=r"x.yaml: connect.url: expected an endpoint with a port"):
        env.port_of("connect.url")
    with pytest.raises(EnvironmentError_, match=r"kafka.bootstrap_servers: required key is missing"):
        env.port_of("kafka.bootstrap_servers")


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(EnvironmentError_, match=r"unknown environment 'nope' \(known: .*local"):
        load_environment("nope")


def test_an_environment_file_is_read_as_validate_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`local up` refuses what `validate` refuses, with the file and line: a key given twice."""
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments/twice.yaml").write_text("engine: flink\nkafka:\n  a: 1\nengine: ksqldb\n")
    monkeypatch.setenv("FRAUDCTL_HOME", str(tmp_path))
    with pytest.raises(EnvironmentError_, match=r"environments/twice.yaml:4.*engine"):
        load_environment("twice")


def test_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    first = secrets.load_or_create(path)
    assert set(first) == set(secrets.NAMES)
    assert path.stat().st_mode & 0o777 == 0o600
    assert secrets.load_or_create(path) == first


def test_port_free_sees_a_listening_socket() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert not port_free("127.0.0.1", port)
    assert port_free("127.0.0.1", port)


def test_spawn_and_stop_the_whole_process_group(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    # A parent that starts a child: stop must end both.
    spec = ProcessSpec("demo", ["bash", "-c", "sleep 300 & echo child $! ; wait"], tmp_path / "demo.log", tmp_path)
    pid = process.spawn(spec, run)
    assert process.running_pid(run, "demo") == pid
    time.sleep(0.3)
    child = int((tmp_path / "demo.log").read_text().rsplit("child ", 1)[1].split()[0])
    assert process.stop(run, "demo", timeout=5) is True
    assert process.running_pid(run, "demo") is None
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split(")")[1][:3]
    assert process.stop(run, "demo") is False  # nothing left to stop


def test_stale_pid_file_is_not_trusted(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "ghost.pid").write_text("1 999999999\n")  # pid 1 exists, but with another start time
    assert process.running_pid(run, "ghost") is None
    assert not (run / "ghost.pid").exists()


def test_ksqldb_is_started_only_from_a_named_installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fraudctl.localstack.layout import Layout
    from fraudctl.localstack.services import KSQLDB_START, build_services

    env, layout = load_environment("local"), Layout(tmp_path / ".local")
    monkeypatch.delenv("KSQLDB_HOME", raising=False)
    [ksqldb] = [s for s in build_services(env, layout, {}, None) if s.name == "ksqldb"]
    assert ksqldb.skip is not None and "set KSQLDB_HOME" in ksqldb.skip
    assert ksqldb.ports == (env.port_of("ksqldb.url"),)

    monkeypatch.setenv("KSQLDB_HOME", str(tmp_path / "nothing"))
    [ksqldb] = [s for s in build_services(env, layout, {}, None) if s.name == "ksqldb"]
    assert ksqldb.skip is not None and "not a ksqlDB installation" in ksqldb.skip

    home = tmp_path / "confluent"
    (home / KSQLDB_START).parent.mkdir(parents=True)
    (home / KSQLDB_START).write_text("#!/bin/sh\n")
    monkeypatch.setenv("KSQLDB_HOME", str(home))
    [ksqldb] = [s for s in build_services(env, layout, {}, None) if s.name == "ksqldb"]
    assert ksqldb.skip is None
    layout.ensure()
    ksqldb.prepare()
    spec = ksqldb.spec()
    assert spec.argv == [str(home / KSQLDB_START), str(layout.conf / "ksql-server.properties")]
    conf = (layout.conf / "ksql-server.properties").read_text()
    assert f"listeners=http://127.0.0.1:{env.port_of('ksqldb.url')}" in conf
    assert f"bootstrap.servers=127.0.0.1:{env.port_of('kafka.bootstrap_servers')}" in conf


def test_a_failed_up_stops_what_it_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fraudctl.localstack import stack
    from fraudctl.localstack.health import Health
    from fraudctl.localstack.layout import Layout

    layout = Layout(tmp_path / ".local")
    layout.ensure()
    (layout.opt / ".installed").write_text("")
    log = layout.logs / "x.log"
    first = Service(
        "first", (), lambda: ProcessSpec("first", ["sleep", "60"], log, tmp_path), lambda: Health(True, "ok")
    )
    broken = Service(
        "broken",
        (),
        lambda: ProcessSpec("broken", ["false"], log, tmp_path),
        lambda: Health(False, "no"),
        after=("first",),
    )
    monkeypatch.setattr(stack, "_services", lambda _env, _layout, **_kw: [first, broken])
    with pytest.raises(StackError, match="broken: process .* exited while starting"):
        stack.up(load_environment("local"), layout, lambda *_: None)
    assert process.running_pid(layout.run, "first") is None  # stopped again, pid file gone


def test_secret_files_are_private_from_the_first_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    opened: list[tuple[int, int]] = []
    real_open = os.open

    def watch(path: str, flags: int, mode: int = 0o777, **kw: object) -> int:
        opened.append((flags, mode))
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", watch)
    target = tmp_path / "secrets.env"
    secrets.load_or_create(target)
    assert opened and all(mode == 0o600 for flags, mode in opened if flags & os.O_CREAT)
    assert target.stat().st_mode & 0o777 == 0o600
    target.chmod(0o644)
    secrets.write_private(target, "x\n")  # an existing file is made private too
    assert target.stat().st_mode & 0o777 == 0o600


def test_connects_env_provider_reads_only_the_variables_it_is_handed(tmp_path: Path) -> None:
    from fraudctl.localstack.layout import Layout
    from fraudctl.localstack.services import build_services

    layout = Layout(tmp_path / ".local")
    layout.ensure()
    generated = {name: f"value-of-{name}" for name in secrets.NAMES}
    [connect] = [s for s in build_services(load_environment("local"), layout, generated, None) if s.name == "connect"]
    connect.prepare()
    conf = (layout.conf / "connect-distributed.properties").read_text()
    # The connectors name the writer's password and the object store's keys: the worker gets those
    # only (not the owner's password, the analysts' or the scoring token).
    handed = {"FRAUD_PG_WRITER_PASSWORD", "FRAUD_S3_ACCESS_KEY_ID", "FRAUD_S3_SECRET_ACCESS_KEY"}
    expected = "config.providers.env.param.allowlist.pattern=^(" + "|".join(sorted(handed)) + ")$"
    assert expected in conf.splitlines()
    assert set(connect.spec().env) == handed
    assert all(connect.spec().env[n] == generated[n] for n in handed)


def test_status_and_down_change_nothing_on_the_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only `up` prepares: on a machine where the stack never ran, `status` and `down` create no
    folder, no secrets file and no system user."""
    import subprocess as sp

    from fraudctl.localstack import stack
    from fraudctl.localstack.layout import Layout

    calls: list[object] = []
    monkeypatch.setattr(sp, "run", lambda *a, **k: calls.append(a))  # useradd would be a run()
    layout = Layout(tmp_path / ".local")
    env = load_environment("local")
    states = {s.name: s.state for s in stack.status(env, layout)}
    assert set(states.values()) <= {"down", "not configured"}
    assert stack.down(env, layout, lambda *a: None) == []
    assert not (tmp_path / ".local").exists() and calls == []


def test_the_supervisor_restarts_a_killed_service_and_records_it(tmp_path: Path) -> None:
    """Real processes (`sleep`), no stack: a service killed with SIGKILL is started again, and the
    restart is recorded where `local status` reads it."""
    import os
    import signal
    import threading

    from fraudctl.localstack.health import Health
    from fraudctl.localstack.layout import Layout
    from fraudctl.localstack.supervisor import Supervisor, read_restarts

    layout = Layout(tmp_path / ".local")
    layout.ensure()
    spec = ProcessSpec("worker", ["sleep", "60"], layout.logs / "worker.log", layout.root)
    svc = Service(
        name="worker",
        ports=(),
        spec=lambda: spec,
        check=lambda: Health(process.running_pid(layout.run, "worker") is not None, "sleeping"),
        start_timeout=10,
    )
    first = process.spawn(spec, layout.run)
    supervisor = Supervisor([svc], layout)
    runner = threading.Thread(target=supervisor.run, daemon=True)
    runner.start()
    try:
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while not read_restarts(layout) and time.monotonic() < deadline:
            time.sleep(0.1)
        [restart] = read_restarts(layout)
        assert restart.service == "worker" and restart.pid != first and restart.healthy_after_s is not None
        assert process.running_pid(layout.run, "worker") == restart.pid
    finally:
        supervisor.stop()
        runner.join(10)
        process.stop(layout.run, "worker")

"""`fraudctl local up | status | down` as a user runs them, through the real CLI."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from fraudctl.config.environment import Environment
from fraudctl.config.settings import settings_from
from fraudctl.localstack import stack
from fraudctl.localstack.layout import Layout
from fraudctl.localstack.services import StackError, ksqldb_home
from tests.cli import fraudctl
from tests.conftest import Endpoints

pytestmark = pytest.mark.stack
SERVICES = {
    "kafka",
    "connect",
    "postgres",
    "search",
    "s3",
    "flink-jobmanager",
    "flink-taskmanager",
    "flink-sql-gateway",
    "scoring",
    "enrichment",
    "search-proxy",
    "s3-proxy",
    "supervisor",
}
# Started only from an installation named by KSQLDB_HOME; otherwise listed as "not configured".
KSQLDB_CONFIGURED = ksqldb_home()[0] is not None
RUNNING = SERVICES | ({"ksqldb"} if KSQLDB_CONFIGURED else set())


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_second_up_changes_nothing(local_stack: Endpoints) -> None:
    before = json.loads(fraudctl("local", "status", "--output", "json").stdout)
    res = fraudctl("local", "up", "--output", "json")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    assert {s["name"] for s in result["services"]} == SERVICES | {"ksqldb"}
    assert all(not s["started"] for s in result["services"]), result
    after = json.loads(fraudctl("local", "status", "--output", "json").stdout)
    assert {s["name"]: s["pid"] for s in before["services"]} == {s["name"]: s["pid"] for s in after["services"]}


def test_status_json_lists_every_service_up(local_stack: Endpoints) -> None:
    res = fraudctl("local", "status", "--output", "json")
    assert res.returncode == 0, res.stdout
    data = json.loads(res.stdout)
    assert data["ok"] is True
    by_name = {s["name"]: s for s in data["services"]}
    assert set(by_name) == SERVICES | {"ksqldb"}
    for name in RUNNING:
        s = by_name[name]
        assert s["state"] == "up" and isinstance(s["pid"], int) and Path(s["log"]).is_file()
    if not KSQLDB_CONFIGURED:
        assert by_name["ksqldb"]["state"] == "not configured" and "KSQLDB_HOME" in by_name["ksqldb"]["detail"]
    assert by_name["kafka"]["ports"] == [9092, 9093, 9094]  # plain, controller, the analysts SASL listener


def test_port_taken_fails_fast_naming_service_and_port(local_stack: Endpoints, tmp_path: Path) -> None:
    # A second stack (its own state folder) whose Kafka port is held by another socket.
    real = Layout.default()
    layout = Layout(tmp_path / "state")
    layout.root.mkdir()
    for shared in ("opt", "artifacts"):
        (layout.root / shared).symlink_to(real.root / shared)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        raw = json.loads(json.dumps(local_stack.env.raw))
        raw["kafka"]["bootstrap_servers"] = f"127.0.0.1:{port}"
        env = Environment("local", local_stack.env.path, raw, settings_from("local", raw))
        with pytest.raises(StackError) as err:
            # Every other port is taken by the running stack too; kafka is checked first.
            stack.up(env, layout, lambda *a: None)
    message = str(err.value)
    assert message.startswith(f"kafka: port {port} on 127.0.0.1 is already in use")
    assert not list((layout.root / "run").glob("*.pid")), "nothing may start when a port is taken"


@pytest.mark.last
def test_down_stops_everything_it_started_and_nothing_else(local_stack: Endpoints) -> None:
    if os.environ.get("FRAUD_KEEP_STACK") == "1":
        pytest.skip("FRAUD_KEEP_STACK=1: the stack is kept running")
    bystander = subprocess.Popen(["sleep", "300"])  # a process the stack did not start
    try:
        pids = [s["pid"] for s in json.loads(fraudctl("local", "status", "--output", "json").stdout)["services"]]
        pids = [p for p in pids if p is not None]
        res = fraudctl("local", "down", "--output", "json")
        assert res.returncode == 0, res.stderr
        assert set(json.loads(res.stdout)["stopped"]) == RUNNING
        # The fixture may have started them from this process: reap our zombies before looking.
        for pid in pids:
            with contextlib.suppress(ChildProcessError, TypeError):
                os.waitpid(pid, os.WNOHANG)
        alive = [p for p in pids if p and _alive(p)]
        assert alive == []
        # Nothing else of the stack is left: no process whose command line points into .local/.
        state = str(Layout.default().root)
        leftovers = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if state in cmd and "pytest" not in cmd:
                    leftovers.append(cmd[:120])
        assert leftovers == []
        status = fraudctl("local", "status", "--output", "json")
        assert status.returncode == 3
        states = {s["name"]: s["state"] for s in json.loads(status.stdout)["services"]}
        assert states == {n: "down" for n in RUNNING} | ({} if KSQLDB_CONFIGURED else {"ksqldb": "not configured"})
        assert bystander.poll() is None, "down must not touch processes it did not start"
    finally:
        bystander.kill()

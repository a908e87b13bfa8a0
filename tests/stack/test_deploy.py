"""plan / apply / status / restart-failed / destroy against the real local stack (Kafka, Connect,
Flink, PostgreSQL). Runs in file order: each test leaves the environment applied."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition

from fraudctl.config.project import copy_declarations
from fraudctl.demo.watch import TopicWatcher
from fraudctl.deploy.state import StateStore
from fraudctl.localstack.layout import Layout
from tests.cli import fraudctl
from tests.conftest import Endpoints
from tests.stack.clock import Clock, stamp
from tests.unit.test_validate_corpus import edit

pytestmark = pytest.mark.stack
ROOT = Path(__file__).resolve().parents[2]
CONNECTORS = {p.stem for p in (ROOT / "connectors").glob("*.yaml")}


def plan_json(home: Path = ROOT, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = fraudctl("plan", "--env", "local", "--output", "json", *extra, home=home)
    assert res.returncode in (0, 2), res.stdout + res.stderr
    return res.returncode, json.loads(res.stdout)


def apply(home: Path = ROOT, *extra: str) -> dict:  # type: ignore[type-arg]
    res = fraudctl("apply", "--env", "local", "--auto-approve", "--output", "json", *extra, home=home)
    assert res.stdout, res.stderr
    return dict(json.loads(res.stdout))


def writes(plan: dict) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    return [(c["kind"], c["name"], c["op"]) for c in plan["changes"] if c["op"] not in ("noop", "orphan")]


def config_topic_end(bootstrap: str) -> int:
    """The end offset of Connect's config topic: every config write of the worker lands there."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fraudctl-test-probe"})
    try:
        return int(consumer.get_watermark_offsets(TopicPartition("_connect-configs", 0), timeout=10)[1])
    finally:
        consumer.close()


def our_jobs(rest: str) -> list[tuple[str, str]]:
    jobs = requests.get(f"{rest}/jobs/overview", timeout=10).json()["jobs"]
    return sorted(
        (j["jid"], j["name"])
        for j in jobs
        if j["name"].startswith("fraudctl:local:") and j["state"] not in ("CANCELED", "FINISHED", "FAILED")
    )


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    home = copy_declarations(ROOT, tmp_path / "repo")
    (home / "pyproject.toml").write_text("")
    os.symlink(ROOT / ".local", home / ".local")  # the same local stack and its secrets
    return home


def test_apply_from_scratch_reaches_running(local_stack: Endpoints) -> None:
    result = apply()
    assert result["ok"], result["problems"]
    status = fraudctl("status", "--env", "local", "--output", "json")
    data = json.loads(status.stdout)
    assert status.returncode == 0, data
    assert {c["name"] for c in data["connectors"] if c["managed"] and c["state"] == "RUNNING"} == CONNECTORS
    assert [j["state"] for j in data["jobs"]] == ["RUNNING"]
    assert data["matches_repo"] is True


def test_no_change_plan_exits_0_and_apply_writes_nothing(local_stack: Endpoints) -> None:
    code, plan = plan_json()
    assert code == 0 and writes(plan) == [], writes(plan)
    configs_before = config_topic_end(local_stack.bootstrap)
    jobs_before = our_jobs(local_stack.flink_rest)
    result = apply()
    assert result["ok"] and writes(result["plan"]) == []
    assert config_topic_end(local_stack.bootstrap) == configs_before  # no connector config was sent
    assert our_jobs(local_stack.flink_rest) == jobs_before  # the job was not touched


def test_one_threshold_change_is_exactly_one_change(local_stack: Endpoints, repo_copy: Path) -> None:
    edit(
        repo_copy / "environments/local.yaml",
        "high_value: {threshold: 1000}",
        "high_value: {threshold: 1500}",
    )
    code, plan = plan_json(repo_copy)
    assert code == 2
    [change] = [c for c in plan["changes"] if c["op"] != "noop"]
    assert (change["kind"], change["name"], change["op"]) == ("flink-job", "detections", "replace")
    fields = {f["key"]: (f["before"], f["after"]) for f in change["fields"]}
    assert fields.pop("rules.high_value.threshold") == (1000, 1500)
    assert set(fields) == {"sql_checksum"}  # derived from the rendered SQL, nothing else
    assert "savepoint" in change["note"]
    configs_before = config_topic_end(local_stack.bootstrap)
    result = apply(repo_copy)
    assert result["ok"], result["problems"]
    assert config_topic_end(local_stack.bootstrap) == configs_before  # connectors untouched
    assert len(our_jobs(local_stack.flink_rest)) == 1
    assert plan_json(repo_copy)[0] == 0
    assert apply()["ok"]  # back to the repo's own threshold (replaced again, from a savepoint)


def test_one_connector_key_change_is_exactly_one_change(local_stack: Endpoints, repo_copy: Path) -> None:
    edit(
        repo_copy / "connectors/alerts-search.yaml",
        "errors:",
        "overrides:\n  oss:\n    max.retries: 5\nerrors:",
    )
    code, plan = plan_json(repo_copy)
    assert code == 2
    [change] = [c for c in plan["changes"] if c["op"] != "noop"]
    assert (change["kind"], change["name"], change["op"]) == ("connector", "alerts-search", "update")
    assert change["fields"] == [{"key": "max.retries", "before": None, "after": "5"}]
    assert apply(repo_copy)["ok"]
    live = requests.get(f"{local_stack.connect_url}/connectors/alerts-search/config", timeout=10).json()
    assert live["max.retries"] == "5"
    assert apply()["ok"]


def test_removed_connector_is_pruned_only_with_prune_and_hand_made_never(
    local_stack: Endpoints, repo_copy: Path
) -> None:
    hand = {
        "connector.class": "io.github.fraudpipeline.connect.search.SearchSinkConnector",
        "topics": "dlq-sinks",
        "connection.url": "http://127.0.0.1:9200",
        "tasks.max": "1",
    }
    requests.put(f"{local_stack.connect_url}/connectors/made-by-hand/config", json=hand, timeout=30).raise_for_status()
    try:
        (repo_copy / "connectors/alerts-search.yaml").unlink()
        code, plan = plan_json(repo_copy)
        ops = {(c["kind"], c["name"]): (c["op"], c["note"]) for c in plan["changes"]}
        assert ops[("connector", "alerts-search")] == (
            "orphan",
            "no longer in the repo; deleted only with --prune",
        )
        assert ("connector", "made-by-hand") not in ops
        assert code == 0  # nothing to do without --prune
        code, plan = plan_json(repo_copy, "--prune")
        assert code == 2 and writes(plan) == [("connector", "alerts-search", "delete")]
        assert apply(repo_copy, "--prune")["ok"]
        names = set(requests.get(f"{local_stack.connect_url}/connectors", timeout=10).json())
        assert "alerts-search" not in names and "made-by-hand" in names
    finally:
        requests.delete(f"{local_stack.connect_url}/connectors/made-by-hand", timeout=30)
    assert apply()["ok"]
    assert "alerts-search" in set(requests.get(f"{local_stack.connect_url}/connectors", timeout=10).json())


def _task_state(connect_url: str, name: str) -> str:
    tasks = requests.get(f"{connect_url}/connectors/{name}/status", timeout=10).json()["tasks"]
    return str(tasks[0]["state"]) if tasks else "NONE"


def test_failing_task_is_reported_with_trace_and_restarted_alone(local_stack: Endpoints, repo_copy: Path) -> None:
    # The sink pointed at a closed port: its task fails as it starts (after briefly reporting RUNNING).
    edit(
        repo_copy / "connectors/alerts-postgres.yaml",
        "errors:",
        'overrides:\n  oss:\n    connection.url: "jdbc:postgresql://127.0.0.1:1/fraud"\nerrors:',
    )
    result = apply(repo_copy, "--timeout", "60")
    assert not result["ok"]
    assert writes(result["plan"]) == [("connector", "alerts-postgres", "update")]
    [problem] = result["problems"]
    assert problem.startswith("connector alerts-postgres task 0 FAILED:\n")
    status = fraudctl("status", "--env", "local", "--output", "json", home=repo_copy)
    assert status.returncode == 3
    failed = {c["name"]: c["failures"] for c in json.loads(status.stdout)["connectors"] if c["failures"]}
    assert set(failed) == {"alerts-postgres"} and "Caused by:" in failed["alerts-postgres"][0]
    others = {n: _task_state(local_stack.connect_url, n) for n in CONNECTORS - {"alerts-postgres"}}
    restarted = json.loads(fraudctl("restart-failed", "--env", "local", "--output", "json", home=repo_copy).stdout)
    assert restarted["restarted"] == ["alerts-postgres (tasks [0])"]
    assert {n: _task_state(local_stack.connect_url, n) for n in others} == others
    result = apply()  # the repo's own config: the task comes back
    assert result["ok"], result["problems"]


def test_killed_apply_converges_on_rerun(local_stack: Endpoints) -> None:
    destroyed = fraudctl("destroy", "--env", "local", "--auto-approve", "--output", "json")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert our_jobs(local_stack.flink_rest) == []
    proc = subprocess.Popen(
        [sys.executable, "-m", "fraudctl", "apply", "--env", "local", "--auto-approve"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not our_jobs(local_stack.flink_rest):
        time.sleep(0.2)  # kill as soon as the job is submitted, before the connectors are written
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    result = apply()
    assert result["ok"], result["problems"]
    assert plan_json()[0] == 0
    assert len(our_jobs(local_stack.flink_rest)) == 1
    store = StateStore("local", local_stack.env.settings)
    try:
        kinds = {k for (k, _n) in store.records()}
    finally:
        store.close()
    assert kinds == {
        "postgres-ddl", "postgres-login", "topic", "kafka-acl", "search-template", "s3-lifecycle", "flink-job",
        "connector",
    }  # fmt: skip
    # The topics were deleted and re-created under the running enrichment step: a payment must
    # still become a scored alert (the step follows the new topics instead of waiting forever).
    user = f"redeploy-{uuid.uuid4().hex[:6]}"
    producer = Producer({"bootstrap.servers": local_stack.bootstrap, "acks": "all"})
    alerts = TopicWatcher({"bootstrap.servers": local_stack.bootstrap}, "fraud-alerts")
    tx = {"transaction_id": f"{user}-1", "user_id": user, "amount": 5000.0, "currency": "EUR", "location": "Paris"}
    producer.produce("transactions", key=user, value=json.dumps({**tx, "timestamp": stamp(datetime.now(UTC))}))
    producer.flush(10)
    clock = Clock(producer, user)
    deadline = time.monotonic() + 90
    try:
        while not any(v and v.get("user_id") == user and "risk_score" in v for _k, v in alerts.poll(1.0)):
            assert time.monotonic() < deadline, "no scored alert after the redeploy within 90 s"
            clock.tick()
    finally:
        alerts.close()


def test_second_apply_is_refused_while_one_holds_the_lock(local_stack: Endpoints) -> None:
    store = StateStore("local", local_stack.env.settings)
    try:
        with store.lock():
            res = fraudctl("apply", "--env", "local", "--auto-approve", "--output", "json")
    finally:
        store.close()
    assert res.returncode == 1
    assert json.loads(res.stdout)["error"].startswith("another apply holds the lock on environment 'local': fraudctl")


def test_no_secret_in_plain_text_in_any_output(local_stack: Endpoints) -> None:
    secrets = [
        line.split("=", 1)[1]
        for line in Layout.default().secrets_file.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    ]
    outputs = [
        fraudctl(*args)
        for args in (
            ("plan", "--env", "local"),
            ("plan", "--env", "local", "-o", "json"),
            ("apply", "--env", "local", "--auto-approve"),
            ("apply", "--env", "local", "--auto-approve", "-o", "json"),
            ("status", "--env", "local"),
            ("status", "--env", "local", "-o", "json"),
        )
    ]
    for res in outputs:
        for secret in secrets:
            assert secret not in res.stdout + res.stderr
    assert "${env:FRAUD_PG_PASSWORD}" not in outputs[0].stdout  # nothing changed, so nothing shown


def test_the_deploy_script_applies_only_the_plan_it_saved(applied: Endpoints, tmp_path: Path) -> None:
    """scripts/deploy.sh on the converged local environment: validate, a plan saved with no
    changes, exit 0 without applying; and `apply --plan` with a plan that no longer matches the
    live state is refused (exit 1, nothing applied)."""
    env = {**os.environ, "FRAUDCTL": str(Path(sys.executable).with_name("fraudctl")), "FRAUD_PLAN_DIR": str(tmp_path)}
    res = subprocess.run(["bash", "scripts/deploy.sh", "local"], cwd=ROOT, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    [saved] = list(tmp_path.glob("local-*.json"))
    plan = json.loads(saved.read_text())
    assert plan["ok"] is True and plan["has_changes"] is False and "no changes for local" in res.stderr
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**plan, "fingerprint": "0" * 16}))
    out = subprocess.run(
        [sys.executable, "-m", "fraudctl", "apply", "--env", "local", "--plan", str(stale), "--auto-approve",
         "--output", "json"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 1 and "stale" in json.loads(out.stdout)["error"]

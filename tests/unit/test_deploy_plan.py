"""The plan's pure logic: change computation, ordering, masking, prune rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudctl.deploy.diff import compute, field_changes
from fraudctl.deploy.model import Change, FieldChange, Plan, Resource


def R(name: str, **spec: object) -> Resource:  # noqa: N802 - reads like a constructor
    return Resource("connector", name, dict(spec))


def test_unchanged_objects_are_noops_and_changes_are_key_by_key() -> None:
    desired = {"a": R("a", x="1", y="2"), "b": R("b", x="1")}
    actual = {"a": R("a", x="1", y="3"), "b": R("b", x="1")}
    changes = compute("connector", desired, actual, managed={"a", "b"}, prune=False)
    assert [(c.name, c.op) for c in changes] == [("a", "update"), ("b", "noop")]
    assert changes[0].fields == (FieldChange("y", "3", "2"),)


def test_a_key_added_by_hand_is_drift_back_to_the_repo() -> None:
    assert field_changes({"x": "1"}, {"x": "1", "extra": "by-hand"}) == (FieldChange("extra", "by-hand", None),)


def test_only_managed_objects_are_ever_deleted_and_only_with_prune() -> None:
    desired = {"kept": R("kept", x="1")}
    actual = {"kept": R("kept", x="1"), "removed": R("removed", x="1"), "by-hand": R("by-hand", x="1")}
    without = compute("connector", desired, actual, managed={"kept", "removed"}, prune=False)
    assert [(c.name, c.op) for c in without] == [("kept", "noop"), ("removed", "orphan")]
    with_prune = compute("connector", desired, actual, managed={"kept", "removed"}, prune=True)
    assert [(c.name, c.op) for c in with_prune] == [("kept", "noop"), ("removed", "delete")]


def test_an_object_matching_but_unrecorded_is_tracked_without_a_write() -> None:
    [change] = compute("connector", {"a": R("a", x="1")}, {"a": R("a", x="1")}, managed=set(), prune=False)
    assert change.op == "noop" and change.track and not change.is_write


def test_apply_order_is_dependencies_first_and_deletes_in_reverse() -> None:
    plan = Plan(
        "local",
        (
            Change("connector", "c", "create"),
            Change("topic", "t", "create"),
            Change("flink-job", "j", "replace"),
            Change("topic", "old", "delete"),
            Change("connector", "gone", "delete"),
            Change("postgres-ddl", "d", "create"),
            Change("connector", "same", "noop"),
        ),
    )
    order = [(c.kind, c.op) for c in plan.ordered_writes()]
    assert order == [
        ("postgres-ddl", "create"),
        ("topic", "create"),
        ("flink-job", "replace"),
        ("connector", "create"),
        ("connector", "delete"),
        ("topic", "delete"),
    ]
    assert plan.has_changes and plan.summary()["noop"] == 1


def test_plan_json_masks_secret_values_but_shows_references() -> None:
    change = Change(
        "connector",
        "c",
        "update",
        (
            FieldChange("connection.password", "hunter2", "${env:PG_PASSWORD}"),
            FieldChange("topics", "a", "b"),
        ),
    )
    fields = Plan("local", (change,)).to_json()["changes"][0]["fields"]
    assert fields[0] == {"key": "connection.password", "before": "********", "after": "${env:PG_PASSWORD}"}
    assert fields[1] == {"key": "topics", "before": "a", "after": "b"}


def test_a_plans_fingerprint_names_its_writes() -> None:
    from fraudctl.deploy.model import Change, FieldChange, Plan

    a = Plan("e", (Change("topic", "t", "create", (FieldChange("partitions", None, 3),)), Change("topic", "u", "noop")))
    same = Plan("e", (Change("topic", "t", "create", (FieldChange("partitions", None, 3),)),))
    other = Plan("e", (Change("topic", "t", "create", (FieldChange("partitions", None, 6),)),))
    assert a.fingerprint == same.fingerprint != other.fingerprint
    assert a.to_json()["fingerprint"] == a.fingerprint


def test_a_refusal_is_an_entry_of_the_plan_and_nothing_is_applied() -> None:

    from fraudctl.config.project import load_project
    from fraudctl.deploy.engine import Deployment, PlanNotApplied
    from fraudctl.deploy.model import REFUSED, Op
    from fraudctl.deploy.providers.topics import TopicProvider

    topics = TopicProvider(
        {"bootstrap.servers": "127.0.0.1:1"}, {"t": {"partitions": 3, "replication": 1, "config": {}}}
    )
    live = {"t": R("t", partitions=6, replication=1), "u": R("u", partitions=1, replication=1)}
    changes = topics.plan({**topics.desired(), "u": R("u", partitions=1, replication=3)}, live, {"t", "u"}, False)
    by_name = {c.name: c for c in changes}
    assert by_name["t"].op == REFUSED and "cannot shrink (6 -> 3)" in by_name["t"].note
    assert by_name["u"].op == REFUSED and "reassignment" in by_name["u"].note
    plan = Plan("e", (*changes, Change("connector", "c", Op.CREATE)), False)
    doc = plan.to_json()
    assert doc["summary"]["refused"] == 2 and len(doc["refused"]) == 2
    assert [c["op"] for c in doc["changes"]] == ["refused", "refused", "create"]
    # apply never runs a plan with a refusal, not even its other changes.
    project, _ = load_project(Path(__file__).resolve().parents[2])
    dep = Deployment(project, "e", project.settings("local"), providers={})
    with pytest.raises(PlanNotApplied, match="refused"):
        dep.apply(None, plan, lambda *a: None, 1)  # type: ignore[arg-type]


def test_a_flink_change_carries_the_job_it_acts_on() -> None:
    from fraudctl.deploy.model import REPLACE
    from fraudctl.deploy.providers.flink_jobs import JOB, FlinkJobProvider

    context = {"rules": [], "stream": {}}
    provider = FlinkJobProvider("e", "http://127.0.0.1:1", "http://127.0.0.1:2", "SELECT 1;", context, {})
    provider.jobs = {JOB: "abc123"}  # what actual() found running
    [change] = provider.plan(provider.desired(), {JOB: R(JOB, sql_checksum="old")}, {JOB}, False)
    assert change.op == REPLACE and change.context == {"job_id": "abc123"}


def test_a_replace_killed_after_its_savepoint_is_resumed_from_that_savepoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15: an apply killed between stop-with-savepoint and resubmit left no running job, and
    the next apply created the job without state. The collector finds the stopped job's savepoint
    (answers of Flink's REST API come from a requests adapter here; the stack suite kills a real
    apply) and the create carries it."""
    import json

    import requests
    from requests.adapters import BaseAdapter

    from fraudctl.deploy.model import CREATE
    from fraudctl.deploy.providers.flink_jobs import JOB, FlinkJobProvider

    answers = {
        "/jobs/overview": {
            "jobs": [
                {"jid": "old", "name": "fraudctl:e:detections:aaa", "state": "CANCELED", "start-time": 1},
                {"jid": "stopped", "name": "fraudctl:e:detections:bbb", "state": "FINISHED", "start-time": 2},
                {"jid": "q", "name": "fraudctl-query:x", "state": "FINISHED", "start-time": 3},
            ]
        },
        "/jobs/stopped/checkpoints": {"latest": {"savepoint": {"external_path": "file:/sp/savepoint-1"}}},
    }

    class Flink(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **_kw: object) -> requests.Response:
            response = requests.Response()
            response.status_code = 200
            response._content = json.dumps(answers[request.path_url]).encode()
            return response

        def close(self) -> None:
            pass

    context = {"rules": [], "stream": {}}
    provider = FlinkJobProvider("e", "http://flink.test", "http://gateway.test", "SELECT 1;", context, {})
    session = requests.Session()
    session.mount("http://", Flink())
    monkeypatch.setattr("fraudctl.deploy.providers.flink_jobs.requests.get", session.get)
    actual = provider.actual(provider.desired(), {})
    assert JOB not in actual
    [change] = provider.plan(provider.desired(), actual, set(), False)
    assert change.op == CREATE and change.context == {"restore_from": "file:/sp/savepoint-1"}
    assert "stopped" in change.note
    # A cancelled job (destroy) is the newest: nothing is restored.
    answers["/jobs/overview"]["jobs"][0]["start-time"] = 9  # type: ignore[index]
    [change] = provider.plan(provider.desired(), provider.actual(provider.desired(), {}), set(), False)
    assert change.op == CREATE and change.context == {}


def test_the_job_settings_are_the_environments_and_part_of_what_the_job_is() -> None:
    """apply, bench detections and the golden scenarios submit with flink/job_config.py: a changed
    state backend or checkpoint interval is a changed job (a replace), like changed SQL."""
    from fraudctl.config.project import load_project
    from fraudctl.deploy.providers.flink_jobs import FlinkJobProvider
    from fraudctl.flink.job_config import job_properties

    project, _ = load_project(Path(__file__).resolve().parents[2])
    local = project.settings("local")
    props = job_properties(local)
    assert props["execution.checkpointing.interval"] == str(local.stream.checkpoint_interval)
    assert local.flink is not None and props["state.backend.type"] == local.flink.state_backend
    context = {"rules": [], "stream": {}}

    def name(p: dict[str, str]) -> str:
        return FlinkJobProvider("e", "http://f", "http://g", "SELECT 1;", context, p).sql_checksum

    assert name(props) != name({**props, "state.backend.type": "rocksdb"})
    assert name(props) == name(dict(reversed(list(props.items()))))


class _Groups:
    """The consumer groups as the provider would read them: one dict per group, changed by the test."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, str]] = {}

    def members(self, group: str) -> dict[str, str]:
        return dict(self.groups.get(group, {}))


def test_a_written_sink_counts_as_started_only_once_new_consumers_joined() -> None:
    from fraudctl.deploy.providers.connect_rest import ConnectClient
    from fraudctl.deploy.providers.connectors import ConnectorProvider
    from fraudctl.render.connectors import consumer_group

    assert consumer_group("s", "postgres-upsert", {"topics": "t"}) == "connect-s"
    assert consumer_group("s", "postgres-upsert", {"topics": "t", "consumer.override.group.id": "g"}) == "g"
    assert consumer_group("src", "postgres-reference-source", {"connector.class": "x"}) is None  # a source has no group
    groups = _Groups()
    groups.groups["connect-s"] = {"old-0": "connector-consumer-s-0"}
    provider = ConnectorProvider(ConnectClient("http://127.0.0.1:1"), [], groups)
    provider.members_before["s"] = ("connect-s", set(groups.members("connect-s")))
    # Right after the write the replaced task's consumer is still there: not started yet.
    assert provider._not_started("s", 1, fresh=True)
    groups.groups["connect-s"] = {}  # it left; the new task is in start() (RUNNING already)
    assert provider._not_started("s", 1, fresh=False)
    groups.groups["connect-s"] = {"new-0": "connector-consumer-s-0"}
    assert provider._not_started("s", 1, fresh=True) is None
    # A write that restarted no task: the old consumers stay, which counts once the grace passed.
    groups.groups["connect-s"] = {"old-0": "connector-consumer-s-0"}
    assert provider._not_started("s", 1, fresh=False) is None
    assert provider._not_started("unwritten", 1, fresh=True) is None

"""Golden scenarios on a real ksqlDB server (any server at a URL, on the Kafka it uses).

ksqlDB object names are global to a server, and the server may hold a deployed pipeline, so each
scenario runs under names of its own: fresh single-partition topics, and every object and every
topic its queries create prefixed with the run's id (`fraudctl.ksqldb.statements.prefixed`). The
scenario's records are produced first (moved near now), the rendered statements are created reading
from the earliest offset, and the detections topic is read until it has been quiet for `settle_s`.
Then exactly the queries this run started are terminated and its objects dropped, readers first,
with the topics the queries created; nothing else on the server is touched.

Late rows: ksqlDB writes no late-row topic; the runner reads which transactions passed the lateness
stage (`transactions_in_time`) and counts the rest as set aside, so a scenario's `late` expectation
is checked as it is on Flink (every row is either evaluated or late, or the scenario fails).

ksqlDB has no bounded run: "quiet for a while" stands for "done". Alerts are compared by (rule,
user, transaction) after de-duplication by alert_id, as the sinks upsert them."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from fraudctl.config.project import Project
from fraudctl.ksqldb import run as ksql_run
from fraudctl.ksqldb.client import KsqlClient, KsqlError
from fraudctl.ksqldb.statements import Statement, parse, settings
from fraudctl.render.pipeline import ENGINE_TOPICS, render_sql, sql_context
from fraudctl.scenarios import topics as scenario_topics
from fraudctl.scenarios.flink_runner import Outcome, compare
from fraudctl.scenarios.model import Alert, Scenario

TOPICS = (*ENGINE_TOPICS, "fraud-alerts")
IN_TIME = "transactions_in_time"  # the lateness stage's table (templates/ksql/state/history.sql.j2)


def _field(value: dict[str, Any], name: str) -> str:
    """A field written by a query with unquoted (upper-case) or quoted (lower-case) names."""
    return str(value.get(name, value.get(name.upper())))


class KsqlScenarioRunner:
    def __init__(
        self,
        project: Project,
        env_name: str,
        bootstrap: str,
        ksqldb_url: str,
        progress: Callable[[str, str], None] = lambda _n, _s: None,
        settle_s: float = 8.0,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.project = project
        self.env_name = env_name
        self.bootstrap = bootstrap
        self.client = KsqlClient(ksqldb_url, auth)
        self.progress = progress
        self.settle_s = settle_s
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def run(self, scenarios: list[Scenario]) -> list[Outcome]:
        return [self._one(sc) for sc in scenarios]

    def _one(self, sc: Scenario) -> Outcome:
        outcome = Outcome(sc)
        started = time.monotonic()
        run_id = uuid.uuid4().hex[:8]
        topics = scenario_topics.fresh(TOPICS)
        prefix = f"scenario_{run_id}_"
        self.progress(sc.name, "running")
        statements: list[Statement] = []
        query_ids: list[str] = []
        try:
            scenario_topics.create(self.admin, list(topics.values()))
            scenario_topics.produce(self.bootstrap, sc, topics)
            context = sql_context(self.project, self.env_name, sc.params, topic_names=topics, ksql_prefix=prefix)
            sql = render_sql(self.project, "ksql", context)
            statements = parse(sql)
            properties = {**settings(sql), "ksql.streams.auto.offset.reset": "earliest"}
            query_ids = ksql_run.create(self.client, statements, properties)
            produced, passed = self._read_until_quiet(
                topics["detections"], self._topic_of(statements, prefix + IN_TIME)
            )
            outcome.missing, outcome.unexpected = compare(Counter(sc.expected), produced)
            self._judge_late(outcome, sc, passed)
            outcome.passed = not outcome.missing and not outcome.unexpected and outcome.error is None
        except (KsqlError, RuntimeError, ValueError) as exc:
            outcome.error = str(exc)
        finally:
            self._drop(statements, query_ids)
            scenario_topics.delete(self.admin, list(topics.values()))
        outcome.seconds = time.monotonic() - started
        self.progress(sc.name, "PASS" if outcome.passed else "FAIL")
        return outcome

    @staticmethod
    def _topic_of(statements: list[Statement], name: str) -> str:
        for s in statements:
            if s.name == name:
                topic = s.topic
                if topic:
                    return topic
        raise RuntimeError(f"the rendered pipeline has no {name} (templates/ksql/state/history.sql.j2)")

    def _judge_late(self, outcome: Outcome, sc: Scenario, passed: Counter[str]) -> None:
        """Every produced row either passed the lateness stage or was set aside as late."""
        produced = Counter(str(tx["transaction_id"]) for tx in sc.transactions)
        outcome.late = sorted((produced - passed).elements())
        if sum(passed.values()) + len(outcome.late) != len(sc.transactions):
            outcome.error = (
                f"the lateness stage passed {sum(passed.values())} rows and set aside {len(outcome.late)}, "
                f"of {len(sc.transactions)} produced"
            )
        elif sc.expected_late is not None and outcome.late != sc.expected_late:
            outcome.error = f"late transactions {outcome.late}, expected {sc.expected_late}"

    def _read_until_quiet(self, detections: str, in_time: str) -> tuple[Counter[Alert], Counter[str]]:
        """The alerts (de-duplicated by alert_id) and the transactions that passed the lateness stage,
        read until neither topic has had a new record for `settle_s` (counted from the first row the
        lateness stage passes: the first transaction is never late): rows still being evaluated keep
        the lateness stage writing, and their alerts follow within the quiet period."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"scenario-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
            }
        )
        consumer.assign([TopicPartition(detections, 0, 0), TopicPartition(in_time, 0, 0)])
        seen: dict[str, Alert] = {}
        passed: Counter[str] = Counter()
        quiet_since = time.monotonic()
        deadline = time.monotonic() + 300
        try:
            while (not passed or time.monotonic() - quiet_since < self.settle_s) and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None or msg.error() is not None:
                    continue
                quiet_since = time.monotonic()
                value: dict[str, Any] = json.loads(msg.value() or b"{}")
                if msg.topic() == in_time:
                    passed[_field(value, "transaction_id")] += 1
                    continue
                seen[_field(value, "alert_id")] = (
                    _field(value, "rule"),
                    _field(value, "user_id"),
                    _field(value, "transaction_id"),
                )
        finally:
            consumer.close()
        if time.monotonic() >= deadline:
            raise RuntimeError("the pipeline did not go quiet within 300 s")
        return Counter(seen.values()), passed

    def _drop(self, statements: list[Statement], query_ids: list[str]) -> None:
        try:
            ksql_run.remove(self.client, statements, query_ids)
        except KsqlError as exc:
            self.progress("cleanup", f"failed: {exc}")

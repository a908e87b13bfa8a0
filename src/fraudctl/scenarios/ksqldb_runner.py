"""Golden scenarios on a real ksqlDB server (where a Docker engine runs one).

ksqlDB object names are global to a server, so scenarios run one after another: each gets fresh
single-partition topics, its transactions (and blacklist) are produced first, the rendered
statements (with the scenario's parameters and topic names) are created reading from the earliest
offset, and the detections topic is read until it has been quiet for `settle_s`. Then every query
is terminated and every object dropped, with the topics the queries created, before the next.

ksqlDB has no bounded run: "quiet for a while" stands for "done". A transaction that arrives out
of order can repeat a rapid_burst hit of a later one; alerts are compared by (rule, user,
transaction) after de-duplication by alert_id, as the sinks upsert them."""

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
from fraudctl.ksqldb.client import KsqlClient, KsqlError
from fraudctl.ksqldb.statements import INSERT, QUERY, parse, settings
from fraudctl.render.pipeline import ENGINE_TOPICS, render_sql, sql_context
from fraudctl.scenarios import topics as scenario_topics
from fraudctl.scenarios.flink_runner import Outcome, compare
from fraudctl.scenarios.model import Alert, Scenario

TOPICS = (*ENGINE_TOPICS, "fraud-alerts")


class KsqlScenarioRunner:
    def __init__(
        self,
        project: Project,
        env_name: str,
        bootstrap: str,
        ksqldb_url: str,
        progress: Callable[[str, str], None] = lambda _n, _s: None,
        settle_s: float = 8.0,
    ) -> None:
        self.project = project
        self.env_name = env_name
        self.bootstrap = bootstrap
        self.client = KsqlClient(ksqldb_url)
        self.progress = progress
        self.settle_s = settle_s
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def run(self, scenarios: list[Scenario]) -> list[Outcome]:
        return [self._one(sc) for sc in scenarios]

    def _one(self, sc: Scenario) -> Outcome:
        outcome = Outcome(sc)
        started = time.monotonic()
        topics = scenario_topics.fresh(TOPICS)
        self.progress(sc.name, "running")
        statements = []
        try:
            scenario_topics.create(self.admin, list(topics.values()))
            scenario_topics.produce(self.bootstrap, sc, topics)
            context = sql_context(self.project, self.env_name, sc.params, topic_names=topics)
            sql = render_sql(self.project, "ksql", context)
            statements = parse(sql)
            properties = {**settings(sql), "ksql.streams.auto.offset.reset": "earliest"}
            for statement in statements:
                self.client.execute(statement.sql, properties)
            produced = self._read_until_quiet(topics["detections"])
            outcome.missing, outcome.unexpected = compare(Counter(sc.expected), produced)
            outcome.passed = not outcome.missing and not outcome.unexpected
        except (KsqlError, RuntimeError, ValueError) as exc:
            outcome.error = str(exc)
        finally:
            self._drop(statements)
            scenario_topics.delete(self.admin, list(topics.values()))
        outcome.seconds = time.monotonic() - started
        self.progress(sc.name, "PASS" if outcome.passed else "FAIL")
        return outcome

    def _read_until_quiet(self, topic: str) -> Counter[Alert]:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"scenario-{uuid.uuid4().hex}"})
        consumer.assign([TopicPartition(topic, 0, 0)])
        seen: dict[str, Alert] = {}
        quiet_since = time.monotonic()
        deadline = time.monotonic() + 180
        try:
            while time.monotonic() - quiet_since < self.settle_s and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None or msg.error() is not None:
                    continue
                value: dict[str, Any] = json.loads(msg.value() or b"{}")
                alert_id = str(value.get("ALERT_ID") or value.get("alert_id"))
                rule = str(value.get("RULE") or value.get("rule"))
                user = str(value.get("USER_ID") or value.get("user_id"))
                tx = str(value.get("TRANSACTION_ID") or value.get("transaction_id"))
                seen[alert_id] = (rule, user, tx)
                quiet_since = time.monotonic()
        finally:
            consumer.close()
        return Counter(seen.values())

    def _drop(self, statements: list[Any]) -> None:
        """Terminates every query and drops every object of the scenario, readers first."""
        try:
            for query in self.client.queries():
                self.client.execute(f"TERMINATE {query['id']}")
            for statement in reversed(statements):
                if statement.kind == INSERT:
                    continue
                delete = " DELETE TOPIC" if statement.kind == QUERY else ""
                self.client.execute(f"DROP {statement.object_type} IF EXISTS {statement.name}{delete}")
        except KsqlError as exc:
            self.progress("cleanup", f"failed: {exc}")

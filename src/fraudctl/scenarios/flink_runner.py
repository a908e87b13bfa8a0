"""Running scenarios on the real Flink session cluster through its SQL Gateway.

Each scenario gets fresh single-partition topics (so arrival order is exactly the file's order),
its reference data and transactions are produced first, and the environment's rendered SQL (with
the scenario's parameters and topic names) runs as one bounded job: it reads the topics to their
end and stops, and end of input flushes every event-time operator. The alerts it wrote are then
compared with `expect`. Scenarios run concurrently, a few jobs at a time."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from confluent_kafka.admin import AdminClient

from fraudctl.config.project import Project
from fraudctl.flink.gateway import FlinkSession, GatewayError, job_root_cause
from fraudctl.flink.job_config import job_properties
from fraudctl.kafka_clients import read_to_end
from fraudctl.render.pipeline import ENGINE_TOPICS, render_sql, sql_context
from fraudctl.scenarios import topics as scenario_topics
from fraudctl.scenarios.model import Alert, Scenario

Progress = Callable[[str, str], None]


@dataclass
class Outcome:
    scenario: Scenario
    passed: bool = False
    missing: list[Alert] = field(default_factory=list)
    unexpected: list[Alert] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    rows_evaluated: int = 0
    error: str | None = None
    seconds: float = 0.0
    job_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.scenario.name,
            "file": self.scenario.path,
            "passed": self.passed,
            "missing": [dict(zip(("rule", "user_id", "transaction_id"), a, strict=True)) for a in self.missing],
            "unexpected": [dict(zip(("rule", "user_id", "transaction_id"), a, strict=True)) for a in self.unexpected],
            "late": self.late,
            "rows_evaluated": self.rows_evaluated,
            "error": self.error,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class _Run:
    outcome: Outcome
    topics: dict[str, str]
    started: float
    session: FlinkSession | None = None


def compare(expected: Counter[Alert], produced: Counter[Alert]) -> tuple[list[Alert], list[Alert]]:
    """Missing and unexpected alerts; an alert produced twice is unexpected the second time."""
    missing = sorted((expected - produced).elements())
    unexpected = sorted((produced - expected).elements())
    return missing, unexpected


class FlinkScenarioRunner:
    def __init__(
        self,
        project: Project,
        env_name: str,
        bootstrap: str,
        gateway_url: str,
        rest_url: str,
        concurrency: int = 4,
        job_timeout: float = 180.0,
        progress: Progress | None = None,
    ) -> None:
        self.project = project
        self.env_name = env_name
        self.bootstrap = bootstrap
        self.gateway_url = gateway_url
        self.rest_url = rest_url.rstrip("/")
        self.concurrency = concurrency
        self.job_timeout = job_timeout
        self.progress = progress or (lambda name, state: None)
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def run(self, scenarios: list[Scenario]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for i in range(0, len(scenarios), self.concurrency):
            outcomes += self._batch(scenarios[i : i + self.concurrency])
        return outcomes

    def _batch(self, scenarios: list[Scenario]) -> list[Outcome]:
        runs = []
        for sc in scenarios:
            runs.append(_Run(Outcome(sc), scenario_topics.fresh(ENGINE_TOPICS), time.monotonic()))
        scenario_topics.create(self.admin, [t for r in runs for t in r.topics.values()])
        try:
            for r in runs:
                self._guard(r, self._load, r)
            for r in runs:
                if r.outcome.error is None:
                    self._guard(r, self._submit, r)
            self._await_jobs(runs)
            for r in runs:
                if r.outcome.error is None:
                    self._guard(r, self._judge, r)
        finally:
            for r in runs:
                if r.session is not None:
                    r.session.close()
                if r.outcome.job_id and r.outcome.error:
                    requests.patch(f"{self.rest_url}/jobs/{r.outcome.job_id}?mode=cancel", timeout=10)
            scenario_topics.delete(self.admin, [t for r in runs for t in r.topics.values()])
        for r in runs:
            r.outcome.seconds = time.monotonic() - r.started
            self.progress(r.outcome.scenario.name, "passed" if r.outcome.passed else "FAILED")
        return [r.outcome for r in runs]

    def _guard(self, run: _Run, step: Callable[[_Run], None], arg: _Run) -> None:
        try:
            step(arg)
        except (GatewayError, RuntimeError, requests.RequestException) as exc:
            run.outcome.error = str(exc)

    def _load(self, run: _Run) -> None:
        scenario_topics.produce(self.bootstrap, run.outcome.scenario, run.topics)
        self.progress(run.outcome.scenario.name, f"loaded {len(run.outcome.scenario.transactions)} transactions")

    def _submit(self, run: _Run) -> None:
        sc = run.outcome.scenario
        context = sql_context(
            self.project,
            self.env_name,
            sc.params,
            run={"mode": "bounded", "group": f"scenario-{uuid.uuid4().hex[:8]}"},
            topic_names=run.topics,
        )
        run.session = FlinkSession(
            self.gateway_url,
            {
                **job_properties(self.project.settings(self.env_name)),
                "parallelism.default": "1",
                "pipeline.name": f"scenario {sc.name}",
                "execution.runtime-mode": "streaming",
            },
        )
        run.outcome.job_id = run.session.submit_pipeline(render_sql(self.project, "flink", context))
        self.progress(sc.name, f"job {run.outcome.job_id} submitted")

    def _await_jobs(self, runs: list[_Run]) -> None:
        deadline = time.monotonic() + self.job_timeout
        pending = [r for r in runs if r.outcome.job_id and r.outcome.error is None]
        while pending:
            still = []
            for r in pending:
                state = requests.get(f"{self.rest_url}/jobs/{r.outcome.job_id}", timeout=10).json().get("state")
                if state == "FINISHED":
                    continue
                if state in ("FAILED", "CANCELED"):
                    r.outcome.error = f"job {state}: {job_root_cause(self.rest_url, str(r.outcome.job_id))}"
                elif time.monotonic() > deadline:
                    r.outcome.error = f"job still {state} after {self.job_timeout:.0f}s"
                else:
                    still.append(r)
            pending = still
            if pending:
                time.sleep(0.5)

    def _judge(self, run: _Run) -> None:
        sc = run.outcome.scenario
        alerts = self._read(run.topics["detections"])
        produced = Counter((a["rule"], a["user_id"], a["transaction_id"]) for a in alerts)
        run.outcome.missing, run.outcome.unexpected = compare(sc.expected, produced)
        run.outcome.late = sorted(r["transaction_id"] for r in self._read(run.topics["late-transactions"]))
        late_ok = sc.expected_late is None or run.outcome.late == sc.expected_late
        if not late_ok:
            run.outcome.error = f"late transactions {run.outcome.late}, expected {sc.expected_late}"
        # A scenario that expects nothing must not pass by reading nothing: every produced row is
        # either evaluated (it reached deduplication) or set aside as late.
        evaluated = self._rows_evaluated(str(run.outcome.job_id))
        run.outcome.rows_evaluated = evaluated
        if evaluated + len(run.outcome.late) != len(sc.transactions):
            run.outcome.error = (
                f"the job evaluated {evaluated} rows and set aside {len(run.outcome.late)} as late, "
                f"of {len(sc.transactions)} produced"
            )
        run.outcome.passed = (
            not run.outcome.missing and not run.outcome.unexpected and late_ok and run.outcome.error is None
        )

    def _rows_evaluated(self, job_id: str) -> int:
        job = requests.get(f"{self.rest_url}/jobs/{job_id}", timeout=10).json()
        counts = [
            int(v["metrics"].get("read-records", 0))
            for v in job.get("vertices", [])
            if v["name"].startswith("Deduplicate")
        ]
        return max(counts, default=0)

    def _read(self, topic: str) -> list[dict[str, Any]]:
        messages = read_to_end({"bootstrap.servers": self.bootstrap}, topic, [0], deadline_s=30)
        return [json.loads(m.value()) for m in messages if m.value() is not None]

"""One traffic run against a deployed environment: seed the reference data, stream generated
traffic, watch the alerts arrive, then check what every sink holds for the run.

The run is scoped by its run id (a prefix of every user and transaction id), so runs on a shared,
long-lived stack never count each other's records."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from fraudctl.config.project import Project
from fraudctl.config.settings import Settings
from fraudctl.config.targets import ALERTS, SCORED, TRANSACTIONS, SinkTargets, TargetError, sink_targets
from fraudctl.demo import sinks
from fraudctl.demo.outcome import SeenAlert, model_bar_met, score
from fraudctl.demo.watch import TopicWatcher
from fraudctl.deploy.engine import kafka_admin_config
from fraudctl.deploy.state import conninfo
from fraudctl.generate.send import Sender, SendStats
from fraudctl.generate.traffic import RULE_KINDS, RuleParams, Traffic, generate
from fraudctl.render.context import env_view, rule_views

BLACKLIST = "blacklist"


class DemoError(Exception):
    pass


@dataclass(frozen=True)
class RunOptions:
    rate: float = 50.0
    duration_s: float = 60.0
    seed: int = 7
    frauds_per_kind: int = 2
    drain_s: float = 45.0  # after the last send: how long to wait for outstanding alerts
    sinks_timeout_s: float = 90.0  # how long the sinks may take to hold the whole run


@dataclass
class Observer:
    """What a display wants to hear about; every callback is optional."""

    on_step: Callable[[str], None] = lambda _msg: None
    on_alert: Callable[[SeenAlert, float | None], None] = lambda _a, _lat: None
    on_tick: Callable[[SendStats, int], None] = lambda _s, _n: None


@dataclass
class Evidence:
    """What a run produced and what each place holds, as id sets, for exact comparisons."""

    sent: frozenset[str] = frozenset()  # transaction ids acknowledged by Kafka
    alerts: frozenset[str] = frozenset()  # alert ids seen on fraud-alerts (read_committed)
    injected: frozenset[str] = frozenset()  # transaction ids of the injected fraud stories
    sinks: dict[str, sinks.SinkCount] = field(default_factory=dict)


@dataclass
class Run:
    project: Project
    env_name: str
    options: RunOptions
    observer: Observer = field(default_factory=Observer)
    run_id: str = field(default_factory=lambda: "demo" + datetime.now(UTC).strftime("%Y%m%dt%H%M%S"))
    # Called once, in its own thread, when half the traffic is sent (the fault suite injects its
    # fault there); the run waits for it before checking the sinks.
    midway: Callable[[], None] | None = None
    evidence: Evidence = field(default_factory=Evidence)
    _midway: threading.Thread | None = field(default=None, init=False, repr=False)
    _last_counts: dict[str, sinks.SinkCount] = field(default_factory=dict, init=False, repr=False)
    _risk: dict[str, float] = field(default_factory=dict, init=False, repr=False)  # transaction_id -> risk score
    _midway_error: BaseException | None = field(default=None, init=False, repr=False)

    def _run_midway(self) -> None:
        assert self.midway is not None
        try:
            self.midway()
        except BaseException as exc:  # noqa: BLE001 - handed to the run's thread, which raises it
            self._midway_error = exc

    def execute(self) -> dict[str, Any]:
        env = env_view(self.project, self.env_name)
        params = RuleParams.from_rules(rule_views(self.project, env))
        o = self.options
        try:
            traffic = generate(self.run_id, params, o.rate, o.duration_s, o.seed, o.frauds_per_kind)
        except ValueError as exc:
            raise DemoError(str(exc)) from exc
        kafka = kafka_admin_config(env)
        try:
            targets = sink_targets(self.project)
        except TargetError as exc:
            raise DemoError(f"the demo checks every sink: {exc}") from exc
        began = datetime.now(UTC)
        self._seed_blacklist(env, kafka, traffic)
        alerts_watch = TopicWatcher(kafka, ALERTS)
        scored_watch = TopicWatcher(kafka, SCORED)
        sender = Sender(traffic, kafka, TRANSACTIONS)
        seen: list[SeenAlert] = []
        self.observer.on_step(
            f"streaming {len(traffic.planned)} transactions at {o.rate:g}/s for {o.duration_s:g} s "
            f"(run {self.run_id}, seed {o.seed}, {len(traffic.injections)} injected frauds)"
        )
        sender.start()
        try:
            self._watch(traffic, sender, alerts_watch, seen, scored_watch)
        finally:
            sender.stop()
            sender.join(10)
            alerts_watch.close()
            scored_watch.close()
        if sender.error is not None:
            raise DemoError(f"sending traffic failed: {sender.error}")
        if self._midway is not None:
            self._midway.join()
            if self._midway_error is not None:
                raise DemoError(f"the midway action failed: {self._midway_error!r}") from self._midway_error
        summary = score(traffic, seen, sender.stats.sent_at, self._risk)
        summary["seconds_behind_schedule_max"] = round(sender.stats.behind_s, 2)
        summary["sinks"] = self._sink_counts(env, targets, summary, began)
        self.evidence = Evidence(
            sent=frozenset(sender.stats.sent_at),
            alerts=frozenset(a.alert_id for a in seen),
            injected=frozenset(traffic.injected_ids),
            sinks=self._last_counts,
        )
        summary["ok"] = (
            summary["rule_based_caught"] == summary["rule_based_injected"]
            and all(not c.get("error") for c in summary["sinks"].values())
            and summary["sinks"]["postgres"]["distinct"] == summary["alerts"]
            and summary["sinks"]["search"]["distinct"] == summary["alerts"]
            and summary["sinks"]["s3"]["distinct"] == summary["transactions_sent"]
            and summary["sinks"]["compliance"]["distinct"] == summary["alerts"]
            and summary["risk_scores"]["fraud"]["count"] == len(traffic.injections)
            and model_bar_met(summary)
        )
        return summary

    def _seed_blacklist(self, env: Settings, kafka: dict[str, Any], traffic: Traffic) -> None:
        """Inserts the run's blacklisted users in PostgreSQL and waits until the CDC source has
        brought them to the blacklist topic (the detection joins on it as of each event time)."""
        if not traffic.blacklist:
            return
        watch = TopicWatcher(kafka, BLACKLIST)
        try:
            with psycopg.connect(conninfo(env, "fraudctl demo")) as conn:
                for user, reason in traffic.blacklist.items():
                    conn.execute("INSERT INTO blacklist (user_id, reason) VALUES (%s, %s)", (user, reason))
            self.observer.on_step(f"seeded {len(traffic.blacklist)} blacklisted account(s) in PostgreSQL")
            waiting = set(traffic.blacklist)
            deadline = time.monotonic() + 60
            while waiting and time.monotonic() < deadline:
                for key, _value in watch.poll(1.0):
                    waiting.discard(key.decode() if key else "")
            if waiting:
                raise DemoError(
                    f"{len(waiting)} blacklist row(s) did not reach the {BLACKLIST!r} topic within 60 s: "
                    "is the blacklist-postgres-source connector RUNNING? (fraudctl status --env "
                    f"{self.env_name})"
                )
            self.observer.on_step("the CDC source delivered them to the blacklist topic")
        finally:
            watch.close()

    def _watch(
        self, traffic: Traffic, sender: Sender, watch: TopicWatcher, seen: list[SeenAlert], scored: TopicWatcher
    ) -> None:
        triggers = {i.trigger_id for i in traffic.injections if i.kind in RULE_KINDS}
        # Every story's trigger is scored (a model alert, if any, is written with its scored record).
        # Not every transaction: the last allowed-lateness of traffic waits in the engine until later
        # traffic moves the watermark past it.
        to_score = {i.trigger_id for i in traffic.injections}
        prefix = traffic.run_id + "-"
        done_sending_at: float | None = None
        last_tick = 0.0
        self._midway = None
        while True:
            if self.midway is not None and self._midway is None and sender.stats.sent * 2 >= len(traffic.planned):
                self.observer.on_step("half the traffic is sent: running the midway action")
                self._midway = threading.Thread(target=self._run_midway, name="midway", daemon=True)
                self._midway.start()
            for _key, value in watch.poll(0.25):
                if not value or not str(value.get("transaction_id", "")).startswith(prefix):
                    continue
                try:
                    alert = SeenAlert.from_record(value, time.time())
                except (KeyError, TypeError, ValueError):
                    continue
                seen.append(alert)
                sent = sender.stats.sent_at.get(alert.transaction_id)
                self.observer.on_alert(alert, (alert.received_at - sent) * 1000 if sent else None)
                triggers.discard(alert.transaction_id)
            for _key, value in scored.poll(0.05, max_records=5000):
                tx = (value or {}).get("transaction") or {}
                if str(tx.get("transaction_id", "")).startswith(prefix):
                    self._risk[str(tx["transaction_id"])] = float(value["risk_score"])  # type: ignore[index]
            now = time.monotonic()
            if now - last_tick >= 0.5:
                self.observer.on_tick(sender.stats, len(seen))
                last_tick = now
            if not sender.is_alive() and (self._midway is None or not self._midway.is_alive()):
                if done_sending_at is None:
                    done_sending_at = now
                    self.observer.on_step(f"all {sender.stats.sent} transactions sent; waiting for outstanding alerts")
                # Keep listening a little after the last expected alert: late duplicates and
                # alerts on other transactions of the injected stories still count.
                if not triggers and to_score <= self._risk.keys() and now - done_sending_at >= 3:
                    return
                if now - done_sending_at >= self.options.drain_s:
                    return

    def _sink_counts(
        self, env: Settings, targets: SinkTargets, summary: dict[str, Any], began: datetime
    ) -> dict[str, dict[str, Any]]:
        want_alerts, want_tx = summary["alerts"], summary["transactions_sent"]
        self.observer.on_step(
            f"checking the sinks: {want_alerts} alert(s) in PostgreSQL, the search index and the compliance "
            f"archive, {want_tx} transaction(s) in the raw S3 archive"
        )
        deadline = time.monotonic() + self.options.sinks_timeout_s
        while True:
            counts = {
                "postgres": sinks.postgres_alerts(env, targets.alerts_table, self.run_id),
                "search": sinks.search_alerts(env, targets.alerts_index, self.run_id),
                "s3": sinks.archived(env, targets.raw_prefix, TRANSACTIONS, self.run_id, began, datetime.now(UTC)),
                "compliance": sinks.archived(
                    env,
                    targets.compliance_prefix,
                    ALERTS,
                    self.run_id,
                    began,
                    datetime.now(UTC),
                    "alert_id",
                    "compliance",
                ),
            }
            complete = (
                counts["postgres"].distinct >= want_alerts
                and counts["search"].distinct >= want_alerts
                and counts["s3"].distinct >= want_tx
                and counts["compliance"].distinct >= want_alerts
            )
            if complete or time.monotonic() >= deadline:
                self._last_counts = counts
                return {name: c.to_json() for name, c in counts.items()}
            self.observer.on_step("  sinks so far: " + ", ".join(f"{name} {c.distinct}" for name, c in counts.items()))
            time.sleep(3)

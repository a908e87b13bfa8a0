"""`fraudctl bench detections`: the rendered rules of the environment's engine (Flink or ksqlDB) on
the local stack, against a baseline on the same engine that reads the same source and writes a
stateless filter (amount above the threshold) to the same kind of sink. Both run one after the
other in this script, on the same traffic.

Two measurements per job, on fresh topics of `partitions` partitions:
- latency: transactions produced at `rate`/s for `seconds`, 2% of them above the threshold; the
  time from producing a triggering transaction to its record appearing on the output topic;
- throughput: `backlog` transactions produced at once, then the rate at which the job evaluates
  them (Flink, from the job's metrics: the baseline's rows read, the rules' rows that passed every
  window; ksqlDB: the offsets the first query reading `transactions` has committed), less the
  allowed lateness the rules must wait for the last row; the sustained rate with bounded lag is at
  most this.
Both jobs are submitted with the environment's job settings (flink/job_config.py), as `apply` does."""

from __future__ import annotations

import contextlib
import json
import random
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import requests
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from fraudctl.config.durations import duration_ms
from fraudctl.config.project import Project
from fraudctl.config.settings import Flink, Settings
from fraudctl.contract import records as contract_records
from fraudctl.deploy.engine import ksql_client
from fraudctl.flink.gateway import FlinkSession
from fraudctl.flink.job_config import job_properties
from fraudctl.kafka_clients import PARTITIONER
from fraudctl.ksqldb import run as ksql_run
from fraudctl.ksqldb.statements import parse, settings
from fraudctl.render.pipeline import ENGINE_TOPICS, render_sql, sql_context

TRIGGER_AMOUNT = 5000.0


WARMUP_S = 10.0


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


class _Job(Protocol):
    bootstrap: str
    topics: dict[str, str]
    # How long after the newest row a row can first be evaluated (the rules' allowed lateness).
    holdback_s: float

    def rows_in(self) -> int: ...

    def close(self) -> None: ...


class _FlinkJob:
    def __init__(self, project: Project, env_name: str, env: Settings, kind: str, partitions: int) -> None:
        flink: Flink = env.need("flink")
        self.bootstrap = env.kafka.bootstrap_servers
        self.rest = flink.rest_url.rstrip("/")
        self.gateway = flink.sql_gateway_url
        self.kind = kind
        self.holdback_s = duration_ms(env.stream.allowed_lateness) / 1000 if kind == "rules" else 0.0
        suffix = uuid.uuid4().hex[:8]
        self.topics = {t: f"bench-{suffix}-{t}" for t in ENGINE_TOPICS}
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for f in admin.create_topics(
            [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in self.topics.values()]
        ).values():
            f.result(timeout=30)
        context = sql_context(
            project, env_name, run={"mode": "stream", "group": f"bench-{suffix}"}, topic_names=self.topics
        )
        baseline: list[str] | None = None  # the rules job runs the rendered INSERTs themselves
        if kind != "rules":
            high_value = next(r for r in context["rules"] if r["name"] == "high_value")
            at = "CAST(event_time AS TIMESTAMP(3))"
            rec = contract_records()
            baseline = [
                "INSERT INTO detections SELECT CONCAT('baseline:', transaction_id), 'baseline', 'FR-000', "
                f"'low', user_id, transaction_id, amount, currency, location, {at}, {at}, {at}, '{{}}', "
                # The transaction and context a rule hit carries: not computed by the baseline.
                f"CAST(NULL AS {rec.transaction_row}), CAST(NULL AS {rec.context_row}) "
                f"FROM transactions WHERE amount > {high_value['params']['threshold']}"
            ]
        self.session = FlinkSession(
            self.gateway, {**job_properties(env), "parallelism.default": "1", "pipeline.name": f"bench {kind}"}
        )
        self.job_id = self.session.submit_pipeline(render_sql(project, "flink", context), baseline)
        # A job is RUNNING before its tasks are: every task must have opened its state (RocksDB
        # instances take seconds here) before traffic starts, or start-up is measured as latency.
        deadline = time.monotonic() + 120
        while not self._tasks_running() and time.monotonic() < deadline:
            time.sleep(0.5)

    def _tasks_running(self) -> bool:
        job = requests.get(f"{self.rest}/jobs/{self.job_id}", timeout=10).json()
        vertices = job.get("vertices", [])
        return job.get("state") == "RUNNING" and bool(vertices) and all(v["status"] == "RUNNING" for v in vertices)

    def rows_in(self) -> int:
        """Rows evaluated, from the job's own counters (read over REST). The baseline's filter is
        chained to its source, so a row read is a row evaluated. The rules hold a row in their
        windows until the watermark passes it: a row is evaluated when it reaches the operator that
        writes `transactions-enriched`, after the last window (counting rows read instead reported
        1,250 rows/s for a job that fell behind at 300/s, measured)."""
        job = requests.get(f"{self.rest}/jobs/{self.job_id}", timeout=10).json()
        vertices = job.get("vertices", [])
        if self.kind == "rules":
            counted = [v for v in vertices if "transactions_enriched[" in v["name"]]
        else:
            # The JSON source (`transactions[n]`), not the raw read of the same topic for dead letters.
            counted = [v for v in vertices if v["name"].startswith("Source: transactions[")]
        return sum(int(v["metrics"].get("read-records", 0)) for v in counted)

    def close(self) -> None:
        requests.patch(f"{self.rest}/jobs/{self.job_id}?mode=cancel", timeout=10)
        # The topics go only once the job is gone: its Kafka sinks abort their open transactions
        # while cancelling, and an abort on a deleted topic waited 60 s, failed the cancel, and the
        # TaskManager shut down with every job on it (seen twice, 2026-12-02).
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state = requests.get(f"{self.rest}/jobs/{self.job_id}", timeout=10).json().get("state")
            if state in ("CANCELED", "FAILED", "FINISHED"):
                break
            time.sleep(0.5)
        self.session.close()
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for f in admin.delete_topics(list(self.topics.values()), operation_timeout=30).values():
            with contextlib.suppress(Exception):  # a leftover benchmark topic is harmless
                f.result(timeout=30)


class _KsqlJob:
    """The rendered ksqlDB pipeline (or a baseline of its source and sink declarations plus one
    filter query) under a prefix of its own, on fresh topics."""

    def __init__(self, project: Project, env_name: str, env: Settings, kind: str, partitions: int) -> None:
        self.bootstrap = env.kafka.bootstrap_servers
        # ksqlDB evaluates a row on arrival (its grace period only keeps windows open for late rows).
        self.holdback_s = 0.0
        suffix = uuid.uuid4().hex[:8]
        self.prefix = f"bench_{suffix}_"
        self.topics = {t: f"bench-{suffix}-{t}" for t in (*ENGINE_TOPICS, "fraud-alerts")}
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for f in self.admin.create_topics(
            [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in self.topics.values()]
        ).values():
            f.result(timeout=30)
        self.client = ksql_client(env)
        context = sql_context(project, env_name, topic_names=self.topics, ksql_prefix=self.prefix)
        sql = render_sql(project, "ksql", context)
        statements = parse(sql)
        if kind != "rules":
            threshold = next(r for r in context["rules"] if r["name"] == "high_value")["params"]["threshold"]
            keep = {f"{self.prefix}transactions", f"{self.prefix}detections"}
            text = (
                "\n".join(s.sql + ";" for s in statements if s.name in keep)
                + "\n"
                + _ksql_baseline(self.prefix, threshold)
            )
            statements = parse(text)
        properties = {**settings(sql), "ksql.streams.auto.offset.reset": "earliest"}
        self.statements = statements
        self.queries = ksql_run.create(self.client, statements, properties)
        # The query that reads `transactions` first: its committed offsets count the rows evaluated.
        self.group = f"_confluent-ksql-{self.client.info().get('ksqlServiceId', '')}query_{self.queries[0]}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self._running():
            time.sleep(0.5)

    def _running(self) -> bool:
        states = [q for q in self.client.queries() if q.get("id") in self.queries]
        return len(states) == len(self.queries) and all(
            "RUNNING" in (q.get("statusCount") or {}) or q.get("state") == "RUNNING" for q in states
        )

    def rows_in(self) -> int:
        from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

        topic = self.topics["transactions"]
        meta = self.admin.list_topics(topic, timeout=10).topics[topic]
        request = ConsumerGroupTopicPartitions(self.group, [TopicPartition(topic, p) for p in meta.partitions])
        try:
            result = self.admin.list_consumer_group_offsets([request])[self.group].result(timeout=10)
        except Exception:  # noqa: BLE001 - no commit yet
            return 0
        return sum(max(0, tp.offset) for tp in result.topic_partitions)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a leftover benchmark object is harmless
            ksql_run.remove(self.client, self.statements, self.queries)
        created = [t for t in self.admin.list_topics(timeout=10).topics if t.startswith(self.prefix)]
        for f in self.admin.delete_topics([*self.topics.values(), *created], operation_timeout=30).values():
            with contextlib.suppress(Exception):  # a leftover benchmark topic is harmless
                f.result(timeout=30)


def _ksql_baseline(prefix: str, threshold: object) -> str:
    """A stateless filter into the detections stream, with the columns the rules write."""
    at = "FORMAT_TIMESTAMP(FROM_UNIXTIME(ROWTIME), 'yyyy-MM-dd HH:mm:ss.SSS', 'UTC')"
    return (
        f"INSERT INTO {prefix}detections SELECT user_key, CONCAT('baseline:', transaction_id) AS `alert_id`, "
        "'baseline' AS `rule`, 'FR-000' AS `rule_id`, 'low' AS `severity`, user_id AS `user_id`, "
        "transaction_id AS `transaction_id`, amount AS `amount`, currency AS `currency`, location AS `location`, "
        f"{at} AS `event_time`, {at} AS `window_start`, {at} AS `window_end`, '{{}}' AS `evidence` "
        f"FROM {prefix}transactions WHERE amount > {threshold} EMIT CHANGES;"
    )


def _transaction(i: int, rng: random.Random, trigger: bool) -> dict[str, Any]:
    user = f"B{rng.randrange(5000):05d}"
    return {
        "transaction_id": f"bt-{i}",
        "user_id": user,
        "amount": TRIGGER_AMOUNT if trigger else round(rng.uniform(5, 150), 2),
        "currency": "EUR",
        "timestamp": _now_rfc3339(),
        "location": "Paris",
    }


def _latency(job: _Job, rate: int, seconds: float, tail: float, rng: random.Random, warmup: float) -> dict[str, Any]:
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    # When each trigger's enriched record (every rule's windowed verdict, Flink) became visible: with
    # stream.decide_on_arrival the alert comes first, and this is what the windowed rules took.
    evaluated: dict[str, float] = {}
    stop = threading.Event()

    def consume() -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": job.bootstrap,
                "group.id": f"bench-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
            }
        )
        enriched = job.topics.get("transactions-enriched")
        consumer.subscribe([job.topics["detections"], *([enriched] if enriched else [])])
        while not stop.is_set():
            msg = consumer.poll(0.1)
            if msg is None or msg.error() or msg.value() is None:
                continue
            value = json.loads(msg.value() or b"{}")
            if msg.topic() == enriched:
                tid = (value.get("transaction") or {}).get("transaction_id")
                if tid in sent and tid not in evaluated:
                    evaluated[tid] = time.monotonic()
            elif (tid := value.get("transaction_id")) in sent and tid not in seen:
                seen[tid] = time.monotonic()
        consumer.close()

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    producer = Producer(
        {
            "bootstrap.servers": job.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "partitioner": PARTITIONER,
        }  # fmt: skip
    )
    t0 = time.monotonic()
    i = 0
    # After the measured window, ordinary traffic goes on for `tail` seconds: alerts wait for the
    # watermark, which only newer events move, as in production where traffic never stops.
    # The first `warmup` seconds of traffic are not measured: generated code is compiled and caches
    # filled on the first rows; the figure is for a job in its steady state.
    while time.monotonic() - t0 < warmup + seconds + tail:
        due = t0 + i / rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        trigger = i % 50 == 0 and warmup <= time.monotonic() - t0 < warmup + seconds
        tx = _transaction(i, rng, trigger)
        producer.produce(job.topics["transactions"], key=tx["user_id"], value=json.dumps(tx))
        producer.poll(0)
        if trigger:
            sent[tx["transaction_id"]] = time.monotonic()
        i += 1
    producer.flush(30)
    deadline = time.monotonic() + 30
    while len(seen) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    reader.join(5)
    latencies = [1000 * (seen[t] - sent[t]) for t in seen]
    windowed = [1000 * (evaluated[t] - sent[t]) for t in evaluated]
    # Lag stays bounded at this rate when the last third of the triggers waits no longer than the
    # first third (a job that falls behind shows latency growing through the window).
    in_order = [1000 * (seen[t] - sent[t]) for t in sorted(sent, key=sent.__getitem__) if t in seen]
    third = max(1, len(in_order) // 3)
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "produced": i,
        "triggers": len(sent),
        "alerts_seen": len(seen),
        "latency_ms_p50": round(_percentile(latencies, 0.5), 1),
        "latency_ms_p99": round(_percentile(latencies, 0.99), 1),
        "latency_ms_mean": round(statistics.fmean(latencies), 1) if latencies else None,
        "latency_ms_p50_first_third": round(_percentile(in_order[:third], 0.5), 1),
        "latency_ms_p50_last_third": round(_percentile(in_order[-third:], 0.5), 1),
        "enriched_seen": len(evaluated),
        "enriched_ms_p50": round(_percentile(windowed, 0.5), 1) if windowed else None,
        "enriched_ms_p99": round(_percentile(windowed, 0.99), 1) if windowed else None,
    }


def _throughput(job: _Job, already: int, rate: int, backlog: int, rng: random.Random) -> dict[str, Any]:
    """`already` rows were produced before, at `rate`/s: all are evaluated before the backlog's."""
    # The job's counters are published with a delay: wait until they show every earlier row but
    # those the windows still hold (the last `holdback_s` of them).
    deadline = time.monotonic() + 60
    while job.rows_in() < already - int(rate * job.holdback_s) - 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    start_rows = already
    t0 = time.monotonic()  # from the first produce: the rate includes producing the backlog
    producer = Producer(
        {
            "bootstrap.servers": job.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 20,
            "batch.num.messages": 10000,
            "partitioner": PARTITIONER,
        }
    )
    for i in range(backlog):
        tx = _transaction(10_000_000 + i, rng, False)
        producer.produce(job.topics["transactions"], key=tx["user_id"], value=json.dumps(tx))
        if i % 10000 == 0:
            producer.poll(0)
    producer.flush(60)
    target = start_rows + backlog
    rows = start_rows
    deadline = t0 + 300
    # Newer rows keep coming after the backlog, as in production: the watermark they move is what
    # releases the backlog's last rows from the windows. Each is stamped after every backlog row,
    # so it is evaluated after all of them: `target` reached means the backlog is done.
    clock = 0
    while rows < target and time.monotonic() < deadline:
        tx = _transaction(20_000_000 + clock, rng, False)
        producer.produce(job.topics["transactions"], key=tx["user_id"], value=json.dumps(tx))
        producer.poll(0)
        clock += 1
        time.sleep(0.5)
        rows = job.rows_in()
    elapsed = time.monotonic() - t0
    producer.flush(30)
    done = min(rows - start_rows, backlog)
    # The last row of the backlog cannot be evaluated before the watermark passes it, `holdback_s`
    # after it was stamped: a fixed wait, not work, left out of the rate.
    working = max(elapsed - job.holdback_s, 1e-3)
    return {
        "backlog": backlog,
        "evaluated": done,
        "seconds": round(elapsed, 2),
        "holdback_s": job.holdback_s,
        "rows_per_s": round(done / working, 0),
    }


def run(
    project: Project,
    env_name: str,
    rate: int,
    seconds: float,
    backlog: int,
    partitions: int,
    engine: str | None = None,
) -> dict[str, Any]:
    """`engine` (flink | ksqldb) overrides the environment's; its endpoints are the environment's."""
    env = project.settings(env_name)
    engine = engine or env.engine
    job_class: type[_FlinkJob] | type[_KsqlJob] = _KsqlJob if engine == "ksqldb" else _FlinkJob
    rng = random.Random(11)
    lateness = env.stream.allowed_lateness
    lateness_s = duration_ms(lateness) / 1000
    results: dict[str, Any] = {}
    for kind in ("baseline", "rules"):
        job: _Job = job_class(project, env_name, env, kind, partitions)
        try:
            latency = _latency(job, rate, seconds, lateness_s + 3, rng, WARMUP_S)
            results[kind] = {
                "latency": latency,
                "throughput": _throughput(job, latency["produced"], rate, backlog, rng),
            }
        finally:
            job.close()
    base, rules = results["baseline"], results["rules"]
    results["ratio"] = {
        "latency_p50": round(rules["latency"]["latency_ms_p50"] / base["latency"]["latency_ms_p50"], 1),
        "latency_p99": round(rules["latency"]["latency_ms_p99"] / base["latency"]["latency_ms_p99"], 1),
        "throughput": round(rules["throughput"]["rows_per_s"] / base["throughput"]["rows_per_s"], 2),
    }
    results["engine"] = engine
    results["partitions"] = partitions
    results["allowed_lateness"] = lateness
    results["warmup_s"] = WARMUP_S
    return results

"""The HTTP enrichment step: rule hits in, scored alerts out.

Reads the stream engine's detections, calls the scoring service in batches over one keep-alive
HTTP session, and writes each record with its risk score to the alerts topic.

Guarantees:
- exactly once (the default): a batch's alerts, its dead letters and its input offsets are one
  Kafka transaction, so readers with `read_committed` (the Connect sinks) see each alert once. The
  transactional id is derived from the consumer group and the partitions assigned
  (`transactional_id`), so two instances never fence each other, and an instance that restarts
  with the same partitions aborts what its predecessor left open;
- at least once (`--at-least-once`): offsets are committed only after every output of the batch is
  acknowledged by Kafka;
- nothing is dropped or defaulted: while the service is down or slow, the batch is retried with
  back-off and consumption is paused (lag grows, then drains);
- a record that cannot be parsed, breaks the contract, or that the scoring service refuses (a
  4xx for that record, for example an unknown rule) goes to the dead-letter topic with the error,
  source topic, partition and offset in headers, and processing continues;
- SIGTERM finishes the batch in hand, commits it, and exits."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from pydantic import BaseModel, ValidationError

from fraudctl.contract import (
    MODEL_RULE,
    MODEL_RULE_ID,
    Detection,
    EnrichedTransaction,
    RuleHit,
    Transaction,
    TransactionContext,
)
from fraudctl.kafka_clients import PARTITIONER, readable_ends

log = logging.getLogger("udf_service.enrichment")


@dataclass(frozen=True)
class EnrichmentConfig:
    bootstrap: str
    scoring_url: str
    source_topic: str = "detections"
    alerts_topic: str = "fraud-alerts"
    dlq_topic: str = "dlq-enrichment"
    group_id: str = "fraud-enrichment"
    # Every evaluated transaction with its context (Flink writes it; empty on ksqlDB for now): each
    # is scored, written to scored_topic, and raises a model alert at or above risk_threshold.
    # None: detections only (the command line's default names the deployed topic).
    enriched_topic: str | None = None
    scored_topic: str = "transactions-scored"
    risk_threshold: float = 0.8
    model_alert_severity: str = "high"
    batch_size: int = 200
    linger_ms: int = 50
    # Requests in flight per batch: a batch is split into this many parts scored in parallel
    # (each over its own keep-alive connection), which helps when the service has several workers.
    concurrency: int = 1
    exactly_once: bool = True
    token: str | None = None
    request_timeout: float = 10.0
    backoff_initial: float = 0.2
    backoff_max: float = 10.0
    # The process exits when writing a batch hangs this long: librdkafka's send_offsets_to_transaction
    # ignores its timeout while the group coordinator is down (confluentinc/librdkafka#5456, #5511;
    # seen here after every broker kill). Its supervisor restarts it, the new producer fences the
    # old one, and the batch is read again. None: never (the step runs inside a test).
    hang_exit_s: float | None = None
    # The rest of the Kafka connection (security protocol, SASL, CA), as librdkafka names it:
    # fraudctl writes it from the environment's one Kafka model (Settings.kafka.librdkafka).
    kafka: tuple[tuple[str, str], ...] = ()


@dataclass
class Stats:
    consumed: int = 0
    produced: int = 0  # alerts
    scored: int = 0  # scored transactions
    dead_lettered: int = 0
    retries: int = 0
    batches: int = 0
    service_calls: int = 0
    reconnects: int = 0
    started: float = field(default_factory=time.monotonic)


# Idle seconds after which the step checks that it is not missing records (see Enricher._stuck).
STUCK_AFTER_S = 15.0


class ParseError(Exception):
    pass


def transactional_id(group_id: str, assignment: list[tuple[str, int]]) -> str:
    """One producer identity per (group, assigned partitions): stable across restarts of the same
    instance (so the new producer fences the dead one and aborts its open transaction), distinct
    between instances of one group (so they never fence each other)."""
    parts: dict[str, list[int]] = {}
    for topic, partition in sorted(assignment):
        parts.setdefault(topic, []).append(partition)
    return ";".join([group_id, *(f"{t}:{','.join(map(str, ps))}" for t, ps in parts.items())])


@dataclass(frozen=True)
class Refused:
    """A record the scoring service refused (a 4xx for it alone): dead-lettered with the reason."""

    reason: str


def _rfc3339(value: str) -> str:
    """The engine writes SQL timestamps (2024-11-16 14:00:00[.000]); the contract wants RFC 3339 UTC."""
    text = value.replace(" ", "T")
    parsed = datetime.fromisoformat(text.removesuffix("Z"))
    return (
        parsed.strftime("%Y-%m-%dT%H:%M:%S")
        + (f".{parsed.microsecond // 1000:03d}" if parsed.microsecond else "")
        + "Z"
    )


# What the step asks the service to return besides the score: the feature vector it computed (kept
# with the scored transaction, so training can be checked against serving).
SCORE_PATH = "/v1/score/batch?features=true"


def to_request(detection: dict[str, Any]) -> dict[str, Any]:
    """A detection record -> the scoring service's request item (transaction + context). Flink's
    detections carry both; a hit without them (ksqlDB) is scored on the fields it has and its rule.
    A record that breaks the detection contract, the transaction contract or the context model (an
    unknown rule too) is dead-lettered here, not sent."""
    _check("detection contract", Detection, detection)
    if detection.get("transaction") is not None and detection.get("context") is not None:
        return {"transaction": detection["transaction"], "context": detection["context"]}
    try:
        when = _rfc3339(str(detection["event_time"]))
    except ValueError as exc:  # the pattern holds, the calendar does not (month 13)
        raise ParseError(f"violates the detection contract: event_time: {exc}") from exc
    tx = {
        "transaction_id": str(detection["transaction_id"]),
        "user_id": str(detection["user_id"]),
        "amount": float(detection["amount"]),
        "currency": str(detection["currency"]),
        "timestamp": when,
        "location": str(detection["location"]),
    }
    context = {"rules_fired": [str(detection["rule"])]}
    _check("transaction contract", Transaction, tx)
    _check("scoring context", TransactionContext, context)
    return {"transaction": tx, "context": context}


def enriched_request(record: dict[str, Any]) -> dict[str, Any]:
    """An enriched transaction is the request item itself, once it holds to its contract."""
    _check("enriched transaction contract", EnrichedTransaction, record)
    return {"transaction": record["transaction"], "context": record["context"]}


def alert_of(detection: dict[str, Any], score: dict[str, Any]) -> dict[str, Any]:
    """A rule alert: the hit's fields (not the transaction and context it carried) and the score."""
    hit = {k: v for k, v in detection.items() if k in RuleHit.model_fields}
    return {**hit, **{k: score[k] for k in ("risk_score", "model_version", "reasons")}}


def scored_of(record: dict[str, Any], score: dict[str, Any]) -> dict[str, Any]:
    return {
        "transaction": record["transaction"],
        "context": record["context"],
        **{k: score[k] for k in ("risk_score", "model_version", "reasons")},
        "features": score.get("features"),
    }


def _sql_time(rfc3339: str) -> str:
    """An RFC 3339 UTC time as the engines write times in alerts (2024-11-16 14:00:00.000)."""
    parsed = datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    return parsed.strftime("%Y-%m-%d %H:%M:%S.") + f"{parsed.microsecond // 1000:03d}"


def raises_model_alert(record: dict[str, Any], score: dict[str, Any], threshold: float) -> bool:
    """One alert per suspicious transaction: a rule hit is already an alert (carrying this same
    score), so the model adds one only where no rule fired and the score reaches the threshold."""
    return not record["context"].get("rules_fired") and float(score["risk_score"]) >= threshold


def model_alert(record: dict[str, Any], score: dict[str, Any], threshold: float, severity: str) -> dict[str, Any]:
    """The alert of a transaction the model scores at or above the threshold and no rule flagged:
    it names the model version and its top reasons."""
    tx = record["transaction"]
    at = _sql_time(str(tx["timestamp"]))
    evidence = {
        "model_version": score["model_version"],
        "risk_score": score["risk_score"],
        "threshold": threshold,
        "reasons": score["reasons"],
    }
    return {
        "alert_id": f"{MODEL_RULE}:{tx['transaction_id']}",
        "rule": MODEL_RULE,
        "rule_id": MODEL_RULE_ID,
        "severity": severity,
        "user_id": tx["user_id"],
        "transaction_id": tx["transaction_id"],
        "amount": tx["amount"],
        "currency": tx["currency"],
        "location": tx["location"],
        "event_time": at,
        "window_start": at,
        "window_end": at,
        "evidence": json.dumps(evidence, separators=(",", ":")),
        **{k: score[k] for k in ("risk_score", "model_version", "reasons")},
    }


def _check(what: str, model: type[BaseModel], value: dict[str, Any]) -> None:
    try:
        model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ParseError(f"violates the {what}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


@contextlib.contextmanager
def _deadline(seconds: float | None, what: str) -> Iterator[None]:
    if seconds is None:
        yield
        return

    def hung() -> None:
        log.error("%s hung for %.0f s: exiting so the supervisor restarts the step", what, seconds)
        logging.shutdown()
        os._exit(3)

    timer = threading.Timer(seconds, hung)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


class ServiceUnavailable(Exception):
    pass


class ServiceRefused(Exception):
    """A 4xx answer (not 429): the request itself is wrong; retrying it as it is cannot help."""


class Enricher:
    def __init__(self, config: EnrichmentConfig) -> None:
        self.config = config
        self.stats = Stats()
        self.running = True
        # One keep-alive session per thread that scores (the step's own thread, or each worker of
        # the pool when a batch is scored in parts).
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max(1, config.concurrency), thread_name_prefix="score")
        self.consumer = self._new_consumer()
        self._producer_conf: dict[str, str | int | float | bool] = {
            **dict(config.kafka),
            "bootstrap.servers": config.bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "partitioner": PARTITIONER,  # alerts are keyed by user, as Java clients place them
        }
        # Exactly once: made per assignment (see _transactional); at least once: one, now.
        self.producer: Producer | None = None if config.exactly_once else Producer(self._producer_conf)
        self.transactional_id: str | None = None
        # Partitions that had a readable record past the position at the last idle check.
        self._behind: dict[tuple[str, int], int] = {}
        self._waiting: dict[tuple[str, int], int] = {}  # position last reported as held by a transaction
        self._probe_conf: dict[str, str | int | float | bool] = {
            **dict(config.kafka),
            "bootstrap.servers": config.bootstrap,
        }
        self._failing: set[tuple[str, int]] = set()  # partitions whose end could not be read last time

    def _transactional(self) -> Producer:
        """The transactional producer of the current assignment (a new one after a rebalance)."""
        assignment = [(str(tp.topic), int(tp.partition)) for tp in self.consumer.assignment()]
        wanted = transactional_id(self.config.group_id, assignment)
        if self.producer is None or wanted != self.transactional_id:
            if self.producer is not None:
                self.producer.flush(30)
            self.producer = Producer({**self._producer_conf, "transactional.id": wanted})
            self.producer.init_transactions(30)  # fences an earlier producer of these partitions
            self.transactional_id = wanted
            log.info("transactional producer %s", wanted)
        return self.producer

    def _new_consumer(self) -> Consumer:
        return Consumer(
            {
                **dict(self.config.kafka),
                "bootstrap.servers": self.config.bootstrap,
                "group.id": self.config.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "max.poll.interval.ms": 300_000,
                # A step that died is noticed by the group in 10 s (not the default 45 s), so the
                # one the supervisor restarts gets its partitions back that much sooner.
                "session.timeout.ms": 10_000,
                "heartbeat.interval.ms": 3_000,
                # A subscribed topic created after the step started (the first `apply`) is noticed
                # within 10 s, not librdkafka's default 5 minutes.
                "topic.metadata.refresh.interval.ms": 10_000,
            }
        )

    def stop(self, *_: object) -> None:
        self.running = False

    def _stuck(self) -> str | None:
        """Why the consumer receives nothing although records are there for it, if it does.
        Seen when the source topic is deleted and re-created (a redeploy: the client keeps fetching
        the old partitions and offsets) and after a broker restart (the client stops fetching a
        partition and never says so). A fresh `read_committed` probe says what a reader gets at the
        tail of each assigned partition: a record readable at or past this consumer's position on
        two idle checks in a row never arrived, so the consumer is stuck. An open transaction holds
        the probe back too: waiting for one is not stuck."""
        assignment = self.consumer.assignment()
        if not assignment:
            return None
        positions: dict[tuple[str, int], int] = {}
        highs: dict[tuple[str, int], int] = {}
        try:
            committed = {(str(t.topic), int(t.partition)): t.offset for t in self.consumer.committed(assignment, 10)}
        except KafkaException as exc:  # the broker is away (a restart): the next idle check asks again
            log.info("idle check: the group's offsets could not be read (%s)", exc)
            return None
        for tp in self.consumer.position(assignment):
            key = (str(tp.topic), int(tp.partition))
            try:
                _low, high = self.consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
            except KafkaException as exc:  # the partition is gone (topic deleted) or the broker is away
                # Only when it lasts: during a broker restart the client's metadata is briefly gone too.
                failing = f"{tp.topic}[{tp.partition}]: {exc.args[0].str() if exc.args else exc}"
                if key in self._failing:
                    self._failing.clear()
                    return failing
                self._failing.add(key)
                continue
            self._failing.discard(key)
            # Nothing consumed since the assignment: the consumer fetches from the group's offset.
            position = tp.offset if tp.offset >= 0 else committed.get(key, -1)
            if position > high:
                self._behind = {}
                return f"{tp.topic}[{tp.partition}] position {position} is beyond its end {high}"
            if position >= 0:
                positions[key] = position
                highs[key] = high
        try:
            ends = readable_ends(self._probe_conf, sorted(positions))
        except KafkaException as exc:  # the broker is away: the next idle check probes again
            log.info("idle check: the probe could not read the partitions' ends (%s)", exc)
            return None
        behind = {key: pos for key, pos in positions.items() if ends.get(key, -1) > pos}
        for (t, p), pos in sorted(positions.items()):
            # Written past the readable end by more than a commit marker: a transaction is open.
            if (t, p) not in behind and highs[(t, p)] > pos + 2 and self._waiting.get((t, p)) != pos:
                self._waiting[(t, p)] = pos
                log.info(
                    "%s[%d]: nothing readable after offset %d though written up to %d (an open transaction holds "
                    "read_committed readers until it ends)",
                    t,
                    p,
                    pos,
                    highs[(t, p)],
                )
        reason = next(
            (
                f"{t}[{p}] has a record readable at or after {pos} that never arrived"
                for (t, p), pos in sorted(behind.items())
                if self._behind.get((t, p)) == pos
            ),
            None,
        )
        self._behind = {} if reason else behind
        return reason

    def run(self, max_seconds: float | None = None, idle_exit: float | None = None) -> Stats:
        self.consumer.subscribe(self.topics)
        deadline = time.monotonic() + max_seconds if max_seconds else None
        last_data = last_check = time.monotonic()
        try:
            while self.running and (deadline is None or time.monotonic() < deadline):
                batch = self._poll_batch()
                now = time.monotonic()
                if batch:
                    self._process(batch)
                    # Idle time counts from the end of the work: a batch can take long (retrying while
                    # the service is down), and the first poll after it may well return nothing.
                    last_data = time.monotonic()
                elif idle_exit is not None and now - last_data > idle_exit:
                    break
                elif now - last_data > STUCK_AFTER_S and now - last_check > STUCK_AFTER_S:
                    last_check = now
                    reason = self._stuck()
                    if reason:
                        # Everything processed is committed: a fresh consumer resumes from the
                        # group's offsets (or the start of a re-created topic) and loses nothing.
                        log.warning("consumer stuck (%s): reconnecting", reason)
                        self.stats.reconnects += 1
                        self.consumer.close()
                        self.consumer = self._new_consumer()
                        self.consumer.subscribe(self.topics)
                        if self.config.exactly_once:
                            # A new consumer is a new group member: a new transactional producer
                            # goes with it (it fences the old one, which holds no open transaction).
                            self.producer, self.transactional_id = None, None
        finally:
            self.consumer.close()  # after the last commit; leaves the group cleanly
        return self.stats

    def _poll_batch(self) -> list[Message]:
        out: list[Message] = []
        end = time.monotonic() + self.config.linger_ms / 1000
        while len(out) < self.config.batch_size and self.running:
            msg = self.consumer.poll(max(0.0, end - time.monotonic()) if out else 0.5)
            if msg is None:
                if out or time.monotonic() >= end:
                    break
                continue
            error = msg.error()
            if error is not None:
                if error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                    log.info("waiting for topics %s to exist (not deployed yet)", ", ".join(self.topics))
                    time.sleep(1)
                elif error.fatal():
                    raise KafkaException(error)
                elif error.code() != KafkaError._PARTITION_EOF:
                    # The broker is away or restarting (transport errors): the client reconnects by
                    # itself, and nothing was consumed that is not committed yet.
                    log.warning("consumer: %s (the client retries)", error.str())
                    time.sleep(0.5)
                continue
            out.append(msg)
        return out

    def _process(self, batch: list[Message]) -> None:
        self.stats.consumed += len(batch)
        self.stats.batches += 1
        good: list[tuple[Message, dict[str, Any], dict[str, Any]]] = []
        poison: list[tuple[Message, str]] = []
        for msg in batch:
            try:
                if msg.value() is None:
                    raise ParseError("empty record (a tombstone)")
                try:
                    value = json.loads(msg.value() or b"")
                except ValueError as exc:
                    raise ParseError(f"not JSON: {exc}") from exc
                if not isinstance(value, dict):
                    raise ParseError("value is not a JSON object")
                request = enriched_request(value) if self._is_enriched(msg) else to_request(value)
                good.append((msg, value, request))
            except ParseError as exc:
                poison.append((msg, str(exc)))
        scores = self._score_until_available([g[2] for g in good]) if good else []
        outputs: list[tuple[str, str, dict[str, Any]]] = []  # (topic, user_id as the key, value)
        for (msg, record, request), score in zip(good, scores, strict=True):
            if isinstance(score, Refused):
                poison.append((msg, score.reason))
                continue
            user = str(request["transaction"]["user_id"])
            if not self._is_enriched(msg):
                outputs.append((self.config.alerts_topic, user, alert_of(record, score)))
                continue
            outputs.append((self.config.scored_topic, user, scored_of(record, score)))
            if raises_model_alert(record, score, self.config.risk_threshold):
                alert = model_alert(record, score, self.config.risk_threshold, self.config.model_alert_severity)
                outputs.append((self.config.alerts_topic, user, alert))
        with _deadline(self.config.hang_exit_s, "writing the batch and committing its offsets"):
            self._write(batch, outputs, poison)

    def _is_enriched(self, msg: Message) -> bool:
        return msg.topic() == self.config.enriched_topic

    @property
    def topics(self) -> list[str]:
        return [self.config.source_topic, *([self.config.enriched_topic] if self.config.enriched_topic else [])]

    def _write(
        self, batch: list[Message], outputs: list[tuple[str, str, dict[str, Any]]], poison: list[tuple[Message, str]]
    ) -> None:
        producer = self._transactional() if self.config.exactly_once else self.producer
        assert producer is not None
        if self.config.exactly_once:
            producer.begin_transaction()
        try:
            self._produce(producer, outputs, poison)
            offsets = self._next_offsets(batch)
            if self.config.exactly_once:
                producer.send_offsets_to_transaction(offsets, self.consumer.consumer_group_metadata(), 30)
                producer.commit_transaction(60)
            else:
                undelivered = producer.flush(60)
                if undelivered:
                    raise KafkaException(f"{undelivered} output record(s) not acknowledged; not committing")
                self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if self.config.exactly_once and getattr(error, "txn_requires_abort", lambda: False)():
                producer.abort_transaction(30)
            # Nothing of this batch is committed: the step stops, and its restart (the supervisor
            # restarts it) reads the batch again from the group's committed offsets.
            raise

    def _produce(
        self, producer: Producer, outputs: list[tuple[str, str, dict[str, Any]]], poison: list[tuple[Message, str]]
    ) -> None:
        for msg, reason in poison:
            producer.produce(
                self.config.dlq_topic,
                key=msg.key(),
                value=msg.value(),
                headers=[
                    ("error", reason.encode()),
                    ("source.topic", str(msg.topic()).encode()),
                    ("source.partition", str(msg.partition()).encode()),
                    ("source.offset", str(msg.offset()).encode()),
                    ("stage", b"enrichment"),
                ],
            )
            self.stats.dead_lettered += 1
        for topic, user, value in outputs:
            # Keyed by user, as every per-user topic is (the Java clients' partitioner).
            producer.produce(topic, key=user.encode(), value=json.dumps(value).encode())
            if topic == self.config.alerts_topic:
                self.stats.produced += 1
            else:
                self.stats.scored += 1

    @staticmethod
    def _next_offsets(batch: list[Message]) -> list[TopicPartition]:
        last: dict[tuple[str, int], int] = {}
        for msg in batch:
            key = (str(msg.topic()), int(msg.partition() or 0))
            last[key] = max(last.get(key, -1), int(msg.offset() or 0))
        return [TopicPartition(t, p, o + 1) for (t, p), o in sorted(last.items())]

    def _score_until_available(self, items: list[dict[str, Any]]) -> list[dict[str, Any] | Refused]:
        """Calls the service until it answers; consumption is paused in the meantime."""
        delay = self.config.backoff_initial
        paused = False
        try:
            while True:
                try:
                    return self._score(items)
                except ServiceUnavailable as exc:
                    if not paused:
                        self.consumer.pause(self.consumer.assignment())
                        paused = True
                    self.stats.retries += 1
                    log.warning("scoring service unavailable (%s); retrying in %.1f s", exc, delay)
                    end = time.monotonic() + delay
                    while time.monotonic() < end:
                        self.consumer.poll(0.1)  # paused: returns nothing, keeps the group membership alive
                    delay = min(delay * 2, self.config.backoff_max)
        finally:
            if paused:
                self.consumer.resume(self.consumer.assignment())

    def _score(self, items: list[dict[str, Any]]) -> list[dict[str, Any] | Refused]:
        parts = max(1, min(self.config.concurrency, len(items)))
        if parts == 1:
            return self._score_part(self._session(), items)
        size = -(-len(items) // parts)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        # Scoring is a pure function of its input: if one part fails, the whole batch is retried.
        results = list(self._pool.map(lambda chunk: self._score_part(self._session(), chunk), chunks))
        return [r for part in results for r in part]

    def _score_part(self, http: requests.Session, items: list[dict[str, Any]]) -> list[dict[str, Any] | Refused]:
        """Scores items; when the service refuses the request (4xx), halves it until the refused
        records are found alone, so only they are dead-lettered."""
        try:
            return list(self._post(http, items))
        except ServiceRefused as exc:
            if len(items) == 1:
                return [Refused(f"scoring service refused the record: {exc}")]
            half = len(items) // 2
            return self._score_part(http, items[:half]) + self._score_part(http, items[half:])

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            if self.config.token:
                session.headers["Authorization"] = f"Bearer {self.config.token}"
            self._local.session = session
        return session

    def _post(self, http: requests.Session, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.stats.service_calls += 1
        try:
            resp = http.post(
                f"{self.config.scoring_url}{SCORE_PATH}",
                json={"transactions": items},
                timeout=self.config.request_timeout,
            )
        except requests.RequestException as exc:
            raise ServiceUnavailable(type(exc).__name__) from exc
        if resp.status_code in (429, 502, 503, 504) or resp.status_code >= 500:
            raise ServiceUnavailable(f"HTTP {resp.status_code}")
        if resp.status_code in (401, 403):
            # The step's own credentials, not a record: stop (and say so) rather than dead-letter everything.
            raise RuntimeError(f"scoring service refused the step's token: HTTP {resp.status_code}: {resp.text[:300]}")
        if resp.status_code != 200:
            raise ServiceRefused(f"HTTP {resp.status_code}: {resp.text[:300]}")
        results = resp.json()["results"]
        if len(results) != len(items):
            raise RuntimeError("scoring service answered a different number of results")
        return list(results)


def main() -> None:
    import argparse

    from fraudctl.config.secrets import is_reference, resolve

    parser = argparse.ArgumentParser(
        prog="python -m udf_service.enrichment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Endpoints have no defaults: they are the environment's (fraudctl passes them), written once there.
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--scoring-url", required=True)
    parser.add_argument(
        "--kafka-property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a librdkafka setting of the connection (repeatable); a value may be a ${env:..}/${file:..} reference",
    )
    parser.add_argument("--source-topic", default="detections")
    parser.add_argument("--enriched-topic", default="transactions-enriched", help="'' to read detections only")
    parser.add_argument("--scored-topic", default="transactions-scored")
    parser.add_argument("--risk-threshold", type=float, required=True, help="the environment's scoring.risk_threshold")
    parser.add_argument("--model-alert-severity", default="high", choices=["low", "medium", "high", "critical"])
    parser.add_argument("--alerts-topic", default="fraud-alerts")
    parser.add_argument("--dlq-topic", default="dlq-enrichment")
    parser.add_argument("--group-id", default="fraud-enrichment")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--linger-ms", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=1, help="scoring requests in flight per batch")
    parser.add_argument(
        "--at-least-once",
        action="store_true",
        help="commit offsets after the outputs are acknowledged instead of one transaction per batch",
    )
    parser.add_argument(
        "--token",
        required=True,
        metavar="REFERENCE",
        help="the scoring service's bearer token as a reference (${env:NAME} or ${file:PATH:KEY}), never a value",
    )
    args = parser.parse_args()
    if not is_reference(args.token):
        parser.error("--token takes a reference such as ${env:FRAUD_SCORING_TOKEN}, never the token itself")
    kafka: list[tuple[str, str]] = []
    for item in args.kafka_property:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--kafka-property {item!r}: expected KEY=VALUE")
        kafka.append((key, resolve(value)))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = EnrichmentConfig(
        args.bootstrap,
        args.scoring_url,
        source_topic=args.source_topic,
        enriched_topic=args.enriched_topic or None,
        scored_topic=args.scored_topic,
        risk_threshold=args.risk_threshold,
        model_alert_severity=args.model_alert_severity,
        alerts_topic=args.alerts_topic,
        dlq_topic=args.dlq_topic,
        group_id=args.group_id,
        batch_size=args.batch_size,
        linger_ms=args.linger_ms,
        concurrency=args.concurrency,
        exactly_once=not args.at_least_once,
        token=resolve(args.token),
        kafka=tuple(kafka),
        hang_exit_s=60.0,
    )
    enricher = Enricher(config)
    signal.signal(signal.SIGTERM, enricher.stop)  # finish the batch in hand, commit it, leave the group
    stats = enricher.run()
    log.info("stopped: %s", stats)


if __name__ == "__main__":
    main()

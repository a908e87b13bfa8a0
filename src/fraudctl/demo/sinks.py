"""What the sinks hold for one run: rows in PostgreSQL, documents in the search index, archived
transactions in S3. Each count also reports duplicates, since "exactly once" is the claim checked."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
import requests

from fraudctl.config.settings import Settings
from fraudctl.deploy.engine import search_endpoint
from fraudctl.deploy.state import conninfo
from fraudctl.objectstore import s3_client


@dataclass(frozen=True)
class SinkCount:
    sink: str
    records: int  # rows / documents / archived lines for the run
    distinct: int  # distinct ids among them (alert_id, or transaction_id for the archive)
    error: str = ""
    # The distinct ids themselves, for exact comparisons (produced vs stored); not in the JSON.
    ids: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"records": self.records, "distinct": self.distinct}
        if self.error:
            out["error"] = self.error
        return out


def postgres_alerts(env: Settings, table: str, run_id: str) -> SinkCount:
    try:
        with psycopg.connect(conninfo(env, "fraudctl demo")) as conn:
            rows = conn.execute(
                f"SELECT alert_id FROM {table} WHERE transaction_id LIKE %s",  # noqa: S608
                (run_id + "-%",),
            ).fetchall()
    except psycopg.Error as exc:
        return SinkCount("postgres", 0, 0, f"{type(exc).__name__}: {exc}".strip())
    ids = frozenset(str(r[0]) for r in rows)
    return SinkCount("postgres", len(rows), len(ids), ids=ids)


def search_alerts(env: Settings, index: str, run_id: str) -> SinkCount:
    url, auth = search_endpoint(env)
    try:
        requests.post(f"{url}/{index}/_refresh", auth=auth, timeout=30)
        tx_field = _exact_field(url, auth, index, "transaction_id")
        query = {
            "query": {"prefix": {tx_field: run_id + "-"}},
            "size": 10_000,  # the index's result window; a run holds far fewer alerts
            "_source": ["alert_id"],
            "track_total_hits": True,
        }
        resp = requests.post(f"{url}/{index}/_search", json=query, auth=auth, timeout=30)
    except requests.RequestException as exc:
        return SinkCount("search", 0, 0, f"{type(exc).__name__}: {exc}")
    if resp.status_code == 404:
        return SinkCount("search", 0, 0)  # no alert indexed yet: the sink creates the index
    if resp.status_code != 200:
        return SinkCount("search", 0, 0, f"HTTP {resp.status_code}: {resp.text[:200]}")
    body = resp.json()
    ids = frozenset(str(h["_source"].get("alert_id")) for h in body["hits"]["hits"])
    return SinkCount("search", int(body["hits"]["total"]["value"]), len(ids), ids=ids)


def _exact_field(url: str, auth: tuple[str, str] | None, index: str, name: str) -> str:
    """`name` when the index maps it as keyword (search/fraud-alerts.json); `name.keyword` when the
    index was created before the template, with dynamic mappings (text plus a keyword sub-field)."""
    resp = requests.get(f"{url}/{index}/_mapping/field/{name}", auth=auth, timeout=30)
    if resp.status_code != 200:
        return name
    for mapping in resp.json().values():
        spec = (mapping.get("mappings", {}).get(name) or {}).get("mapping", {}).get(name, {})
        if spec.get("type") == "text" and "keyword" in (spec.get("fields") or {}):
            return f"{name}.keyword"
    return name


def archived(
    env: Settings,
    prefix: str,
    topic: str,
    run_id: str,
    since: datetime,
    until: datetime,
    id_field: str = "transaction_id",
    sink: str = "s3",
) -> SinkCount:
    """Reads the archive objects of the run's event dates written since the run began, and counts
    the run's records in them (JSON lines, partitioned by event date): records whose
    transaction_id carries the run id, and their distinct `id_field` values."""
    bucket = env.need("s3").bucket
    ids: Counter[str] = Counter()
    try:
        client = s3_client(env)
        day = since.date()
        while day <= until.date():
            paginator = client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}{topic}/dt={day.isoformat()}/"):
                for obj in page.get("Contents", []):
                    if obj["LastModified"] < since - timedelta(minutes=1):
                        continue  # an object of an earlier run
                    body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
                    for line in body.splitlines():
                        record = json.loads(line)
                        if str(record.get("transaction_id", "")).startswith(run_id + "-"):
                            ids[str(record.get(id_field))] += 1
            day += timedelta(days=1)
    except Exception as exc:  # noqa: BLE001 - botocore raises many kinds; the summary shows which
        return SinkCount(sink, sum(ids.values()), len(ids), f"{type(exc).__name__}: {exc}", frozenset(ids))
    return SinkCount(sink, sum(ids.values()), len(ids), ids=frozenset(ids))

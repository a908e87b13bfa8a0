"""Training data from what the pipeline stored: every scored transaction from the S3 archive of
`transactions-scored` (the transaction and the context the stream engine computed for it, so
training reads the features serving read), labelled with the analysts' verdicts in PostgreSQL
(`fraud_alerts.disposition = 'fraud'` on any of the transaction's alerts: 1; everything else: 0).

The archive sink writes each Kafka record once, but the topic can hold one transaction twice (a
producer that sent it again), so rows are de-duplicated by transaction_id. The result is an
ordinary labelled CSV, so what was trained on can be kept, fingerprinted and trained on again.

A line that breaks the scored-transaction contract is no training data: it is counted as refused,
with the first reason, instead of stopping the export."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from pydantic import ValidationError

from fraudctl.config.settings import Settings
from fraudctl.contract import ScoredTransaction, Transaction, TransactionContext
from fraudctl.deploy.state import conninfo
from fraudctl.objectstore import s3_client

LABEL = "is_fraud"
FIELDS = tuple(Transaction.model_fields)
CONTEXT = tuple(TransactionContext.model_fields)


class ArchiveError(Exception):
    pass


@dataclass(frozen=True)
class Export:
    path: Path
    objects: int
    rows: int
    duplicates: int
    positives: int
    refused: int = 0
    first_refusal: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "objects": self.objects,
            "rows": self.rows,
            "duplicates_dropped": self.duplicates,
            "positives": self.positives,
            "refused": self.refused,
            **({"first_refusal": self.first_refusal} if self.first_refusal else {}),
        }


def confirmed_fraud(env: Settings, table: str) -> set[str]:
    with psycopg.connect(conninfo(env, "fraudctl model")) as conn:
        rows = conn.execute(
            f"SELECT DISTINCT transaction_id FROM {table} WHERE disposition = 'fraud'"  # noqa: S608 - table from the repo
        ).fetchall()
    return {str(r[0]) for r in rows}


def export(env: Settings, prefix: str, topic: str, alerts_table: str, out: Path, since: date | None = None) -> Export:
    """Writes the labelled CSV; `since` keeps only event dates from that day on."""
    bucket = env.need("s3").bucket
    client = s3_client(env)
    labels = confirmed_fraud(env, alerts_table)
    seen: dict[str, dict[str, Any]] = {}
    objects = duplicates = refused = 0
    first_refusal = ""
    base = f"{prefix}{topic}/"
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
        for obj in page.get("Contents", []):
            partition = obj["Key"][len(base) :].split("/", 1)[0]  # dt=YYYY-MM-DD
            if since is not None and partition.startswith("dt=") and partition[3:] < since.isoformat():
                continue
            objects += 1
            body = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            for number, line in enumerate(body.splitlines(), 1):
                try:
                    tx_id = ScoredTransaction.model_validate_json(line).transaction.transaction_id
                    record = json.loads(line)
                except ValidationError as exc:
                    refused += 1
                    err = exc.errors()[0]
                    where = ".".join(map(str, err["loc"])) or "the record"
                    first_refusal = first_refusal or f"s3://{bucket}/{obj['Key']}:{number}: {where}: {err['msg']}"
                    continue
                if tx_id in seen:
                    duplicates += 1
                    continue
                context = record["context"]
                seen[tx_id] = (
                    {f: record["transaction"].get(f) for f in FIELDS}
                    | {f: context.get(f) for f in CONTEXT}
                    | {"rules_fired": "|".join(context.get("rules_fired") or []), LABEL: int(tx_id in labels)}
                )
    if not seen:
        raise ArchiveError(
            f"no scored transactions archived under s3://{bucket}/{base}" + (f" since {since}" if since else "")
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*FIELDS, *CONTEXT, LABEL])
        writer.writeheader()
        for row in sorted(seen.values(), key=lambda r: (str(r["timestamp"]), str(r["transaction_id"]))):
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    positives = sum(r[LABEL] for r in seen.values())
    return Export(out, objects, len(seen), duplicates, positives, refused, first_refusal)

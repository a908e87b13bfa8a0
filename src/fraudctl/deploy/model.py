"""The plan as a value: resources, field-level changes, and the plan that `plan` prints and `apply`
executes. Nothing here talks to a service."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from fraudctl.config.secrets import mask

# Apply order (deletes run in reverse): the database schema, its login users, topics, the
# the record contract's schema subjects, the analysts' ACLs on them, search index templates (before a
# sink's first write creates the index), archive retention rules, the stream engine's job (Flink) or
# statements (ksqlDB), connectors.
KIND_ORDER = (
    "postgres-ddl",
    "postgres-login",
    "topic",
    "schema-subject",
    "kafka-acl",
    "search-template",
    "s3-lifecycle",
    "flink-job",
    "ksql-statement",
    "connector",
)


class Op(StrEnum):
    """What a change does. REFUSED: the target cannot make it (the note says why and what to do);
    a plan holding one is printed whole and applies nothing."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "noop"
    ORPHAN = "orphan"
    REFUSED = "refused"


CREATE, UPDATE, REPLACE, DELETE, NOOP, ORPHAN, REFUSED = (
    Op.CREATE, Op.UPDATE, Op.REPLACE, Op.DELETE, Op.NOOP, Op.ORPHAN, Op.REFUSED,
)  # fmt: skip


def checksum(spec: Any) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    spec: dict[str, Any]

    @property
    def checksum(self) -> str:
        return checksum(self.spec)


@dataclass(frozen=True)
class FieldChange:
    key: str
    before: Any
    after: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "before": _masked(self.key, self.before),
            "after": _masked(self.key, self.after),
        }


def _masked(key: str, value: Any) -> Any:
    return mask(key, value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    op: str
    fields: tuple[FieldChange, ...] = ()
    note: str = ""
    desired: Resource | None = field(default=None, compare=False)
    # True when the service already matches but fraudctl's record of it is missing or stale
    # (for example after an interrupted apply): apply then writes the record only.
    track: bool = False
    # What apply needs that only the live state told (a job id, the recorded statement, what to
    # re-create): the plan carries it, so apply never asks the provider what it planned.
    context: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_write(self) -> bool:
        return self.op in (CREATE, UPDATE, REPLACE, DELETE)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "op": self.op,
            "note": self.note,
            "fields": [f.to_json() for f in self.fields],
        }


@dataclass(frozen=True)
class Plan:
    env: str
    changes: tuple[Change, ...]
    prune: bool = False

    @property
    def writes(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.is_write)

    @property
    def has_changes(self) -> bool:
        return bool(self.writes)

    def ordered_writes(self) -> list[Change]:
        rank = {k: i for i, k in enumerate(KIND_ORDER)}
        creates = [c for c in self.writes if c.op != DELETE]
        deletes = [c for c in self.writes if c.op == DELETE]
        return sorted(creates, key=lambda c: rank[c.kind]) + sorted(deletes, key=lambda c: -rank[c.kind])

    @property
    def refused(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.op == REFUSED)

    def summary(self) -> dict[str, int]:
        out = {str(op): 0 for op in Op}
        for c in self.changes:
            out[c.op] += 1
        return out

    @property
    def fingerprint(self) -> str:
        """Identifies the writes (as printed, secrets masked): `apply --plan FILE` refuses to run
        when the plan it makes under the lock is not the one saved (Terraform's stale plan)."""
        return checksum([c.to_json() for c in self.writes])

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "prune": self.prune,
            "has_changes": self.has_changes,
            "refused": [f"{c.kind} {c.name}: {c.note}" for c in self.refused],
            "fingerprint": self.fingerprint,
            "summary": self.summary(),
            "changes": [c.to_json() for c in self.changes],
        }

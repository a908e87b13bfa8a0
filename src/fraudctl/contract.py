"""The transaction record: the contract every component shares (producer, stream engines, scoring
service, scenarios, generator). Defined once, here: the engines' column lists, their checks of
required fields and bounds (templates/*/pipeline.sql.j2 through `records`), the service's request
model and the generator all come from `Transaction` below. A new optional field is one line here."""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, Union, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

# Merchant categories the model treats as risky (a feature of the scoring service; the generator
# draws its fraud stories from them).
RISKY_CATEGORIES = frozenset({"gambling", "crypto", "electronics", "gift_cards", "money_transfer", "jewelry"})

# Money is exact in the engines (Flink and ksqlDB DECIMAL), a float in Python and JSON.
MONEY: JsonDict = {"sql_type": "DECIMAL(18, 2)"}


class Channel(StrEnum):
    pos = "pos"
    ecom = "ecom"
    atm = "atm"


class Transaction(BaseModel):
    """One payment. Topic `transactions`, keyed by user_id; event time is `timestamp`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transaction_id: str = Field(min_length=1, max_length=128)
    user_id: str = Field(min_length=1, max_length=128)
    amount: float = Field(
        gt=0, lt=1e12, allow_inf_nan=False, json_schema_extra={**MONEY, "when_null": "missing or non-numeric amount"}
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    timestamp: str = Field(
        description="RFC 3339 event time in UTC, for example 2024-11-16T14:00:00Z",
        # The engines check the parsed event time (NULL when the text is missing or not a time).
        json_schema_extra={"checked_as": "event_time", "when_null": "timestamp missing or not an RFC 3339 UTC time"},
    )
    location: str = Field(min_length=1, max_length=128, description="city name")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    country: str | None = Field(default=None, max_length=64)
    merchant_id: str | None = Field(default=None, max_length=128)
    merchant_category: str | None = Field(default=None, max_length=64)
    device_id: str | None = Field(default=None, max_length=128)
    channel: Channel | None = None

    @field_validator("timestamp")
    @classmethod
    def _rfc3339_utc(cls, value: str) -> str:
        if not value.endswith("Z") or "T" not in value:
            raise ValueError("expected RFC 3339 in UTC, for example 2024-11-16T14:00:00Z")
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError("expected RFC 3339 in UTC, for example 2024-11-16T14:00:00Z") from exc
        return value

    def event_time(self) -> datetime:
        return datetime.fromisoformat(self.timestamp.replace("Z", "+00:00"))


class BlacklistEntry(BaseModel):
    """A blacklisted account: topic `blacklist` (compacted), keyed by user_id, from PostgreSQL's
    `blacklist` table through the CDC source. A tombstone is a removal. The engines take the user
    from the key and check the value's fields."""

    model_config = ConfigDict(extra="allow", frozen=True)  # the CDC source may add columns

    user_id: str | None = Field(default=None, min_length=1, max_length=128)
    reason: str | None = Field(default=None, max_length=256)
    added_at: str | None = Field(default=None, max_length=64)


class TransactionContext(BaseModel):
    """What the stream engine knows about a transaction from the user's history as of it: the
    `context` of an enriched transaction (topic `transactions-enriched`), computed by the engine for
    every transaction, and what the scoring service reads (udf_service.features.compute). Counts and
    sums include the transaction itself; averages, the previous transaction and the usual location
    are over the user's earlier transactions within `stream.feature_history`. Absent numbers (no
    history, no coordinates) are null."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules_fired: list[str] = Field(default_factory=list, max_length=16, json_schema_extra={"sql_type": "ARRAY<STRING>"})
    txn_count_1h: int = Field(default=1, ge=0, le=100_000_000)
    amount_sum_1h: float = Field(default=0.0, ge=0, lt=1e15, allow_inf_nan=False)
    txn_count_24h: int = Field(default=1, ge=0, le=100_000_000)
    amount_sum_24h: float = Field(default=0.0, ge=0, lt=1e15, allow_inf_nan=False)
    history_count: int = Field(default=0, ge=0, le=100_000_000, description="earlier transactions in the history")
    user_avg_amount: float | None = Field(default=None, gt=0, lt=1e12, allow_inf_nan=False)
    seconds_since_previous: float | None = Field(default=None, ge=0, lt=1e10, allow_inf_nan=False)
    distance_from_previous_km: float | None = Field(default=None, ge=0, le=20_100, allow_inf_nan=False)
    speed_from_previous_kmh: float | None = Field(default=None, ge=0, lt=1e9, allow_inf_nan=False)
    distance_from_usual_km: float | None = Field(default=None, ge=0, le=20_100, allow_inf_nan=False)
    new_device: bool = False
    new_merchant: bool = False

    @field_validator("rules_fired")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        from fraudctl.config.rules import RULES  # the catalogue: config imports nothing of this module

        unknown = sorted(set(value) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rule(s) {unknown}; known: {', '.join(sorted(RULES))}")
        return value


class EnrichedTransaction(BaseModel):
    """A transaction with its context: topic `transactions-enriched` (one per transaction the engine
    evaluated), exactly the scoring service's request item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transaction: Transaction
    context: TransactionContext


class ScoredTransaction(EnrichedTransaction):
    """An enriched transaction with the model's verdict: topic `transactions-scored`, archived to S3
    with its features (the training set of later models)."""

    risk_score: float = Field(ge=0, le=1, allow_inf_nan=False)
    model_version: str = Field(min_length=1, max_length=64)
    reasons: list[str] = Field(default_factory=list)
    features: list[float] | None = Field(
        default=None, description="the vector the service computed (udf_service.features.FEATURES order)"
    )


# Times of a rule hit are SQL timestamps in Flink and "yyyy-MM-dd HH:mm:ss.SSS" text (UTC) in ksqlDB;
# both reach JSON as that text.
SQL_TIME: JsonDict = {"flink_type": "TIMESTAMP(3)"}
SQL_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z?$"


class Severity(StrEnum):
    """A rule's severity (detections/*.yaml; schemas/detection.schema.yaml is checked against it)."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class RuleHit(BaseModel):
    """What a rule found: the fields of a detection that an alert keeps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str = Field(
        min_length=1, max_length=256, description="<rule>:<transaction_id>, so a re-delivery is the same alert"
    )
    rule: str = Field(min_length=1, max_length=64)
    rule_id: str = Field(min_length=1, max_length=32)
    severity: Severity
    user_id: str = Field(min_length=1, max_length=128)
    transaction_id: str = Field(min_length=1, max_length=128)
    amount: float = Field(allow_inf_nan=False, json_schema_extra=MONEY)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    location: str | None = Field(default=None, max_length=128)
    event_time: str = Field(pattern=SQL_TIME_PATTERN, json_schema_extra=SQL_TIME)
    window_start: str | None = Field(default=None, pattern=SQL_TIME_PATTERN, json_schema_extra=SQL_TIME)
    window_end: str | None = Field(default=None, pattern=SQL_TIME_PATTERN, json_schema_extra=SQL_TIME)
    evidence: str | None = Field(default=None, max_length=8192, description="the rule's evidence, as JSON text")


class Detection(RuleHit):
    """A rule hit, as both engines write it to `detections` (keyed by user_id), with the
    transaction and its context where the engine computes them (Flink), so the hit is scored on
    what the model reads. The enrichment step dead-letters a record that breaks it; the rule must
    be one of the deployed rules (TransactionContext.rules_fired)."""

    transaction: Transaction | None = None
    context: TransactionContext | None = None


# A model alert (the risk score at or above scoring.risk_threshold) is named like a rule's hit, so
# it upserts like one (alert_id model:<transaction_id>); its rule is this, next to the deployed rules.
MODEL_RULE = "model"
MODEL_RULE_ID = "ML-001"


class Alert(RuleHit):
    """A scored detection: topic `fraud-alerts`, the search index and the PostgreSQL table
    `fraud_alerts` (whose other columns belong to the analysts). The sinks' field lists, the table's
    DDL and the index mapping are checked against this (tests/unit/test_record_contract.py)."""

    risk_score: float = Field(ge=0, le=1, allow_inf_nan=False)
    model_version: str = Field(min_length=1, max_length=64)
    reasons: list[str] = Field(default_factory=list, json_schema_extra={"stored_in_postgres": False})


# SQL words that are field names here and must be back-quoted (both engines' lexers).
_RESERVED = {"timestamp"}
_SQL_TYPES: dict[type, str] = {str: "STRING", float: "DOUBLE", int: "BIGINT", bool: "BOOLEAN"}


@dataclass(frozen=True)
class Column:
    """One field of a record as the stream engines declare and check it."""

    name: str
    sql_type: str
    required: bool
    when_null: str  # the dead-letter reason when a required field is missing or unparsable
    checked_as: str  # the column the check reads (the parsed event time for `timestamp`)
    greater_than: float | None
    flink_type: str  # where Flink's type differs (times)
    less_than: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    choices: tuple[str, ...] = ()

    def type_in(self, engine: str) -> str:
        return self.flink_type if engine == "flink" else self.sql_type

    @property
    def quoted(self) -> str:
        return f"`{self.name}`" if self.name in _RESERVED else self.name

    @property
    def read_as_text(self) -> bool:
        """An optional number is read as text and cast where it is checked: the JSON reader turns
        a value of the wrong type into NULL, which an optional field may be, so the break would
        pass unseen."""
        return not self.required and self.sql_type in ("DOUBLE", "BIGINT")

    @property
    def source_type(self) -> str:
        return "STRING" if self.read_as_text else self.sql_type

    @property
    def typed(self) -> str:
        """The column as the rules read it."""
        return f"TRY_CAST({self.quoted} AS {self.sql_type})" if self.read_as_text else self.checked_as

    def checks(self, of: str = "") -> list[tuple[str, str]]:
        """(Flink SQL condition that breaks the contract, the dead-letter reason), in order. On an
        optional field every condition is NULL, so never true, when the field is absent. `of`: the
        table alias the columns are read from (`b.`), empty for the row itself."""
        raw = f"{of}{self.quoted}"
        checked = raw if self.checked_as == self.quoted else self.checked_as
        v = f"TRY_CAST({raw} AS {self.sql_type})" if self.read_as_text else checked
        out = []
        if self.required:
            out.append((f"{checked} IS NULL", self.when_null))
        if self.read_as_text:
            out.append((f"{raw} IS NOT NULL AND {v} IS NULL", f"{self.name} is not a number"))
        for bound, op, words in (
            (self.greater_than, "<=", "greater than"),
            (self.less_than, ">=", "less than"),
            (self.minimum, "<", "at least"),
            (self.maximum, ">", "at most"),
        ):
            if bound is not None:
                out.append((f"{v} {op} {_number(bound)}", f"{self.name} must be {words} {_number(bound)}"))
        if self.min_length:
            out.append((f"CHAR_LENGTH({v}) < {self.min_length}", f"{self.name} must not be empty"))
        if self.max_length is not None:
            out.append(
                (f"CHAR_LENGTH({v}) > {self.max_length}", f"{self.name} longer than {self.max_length} characters")
            )
        if self.pattern:
            quoted = self.pattern.replace("'", "''")
            out.append((f"NOT REGEXP({v}, '{quoted}')", f"{self.name} does not match {self.pattern}"))
        if self.choices:
            listed = ", ".join(f"'{c}'" for c in self.choices)
            out.append((f"{v} NOT IN ({listed})", f"{self.name} must be one of {', '.join(self.choices)}"))
        return out


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def _base(annotation: Any) -> type:
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return str
    return annotation if isinstance(annotation, type) else str


def columns(model: type[BaseModel]) -> tuple[Column, ...]:
    """The engines' columns of a record model, in field order, with the model's constraints."""
    out = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}

        def bound(kind: type, attr: str, meta: list[Any] = info.metadata) -> Any:
            return next((getattr(m, attr) for m in meta if isinstance(m, kind)), None)

        base = _base(info.annotation)
        pattern = next((getattr(m, "pattern", None) for m in info.metadata if getattr(m, "pattern", None)), None)
        out.append(
            Column(
                name=name,
                sql_type=str(extra.get("sql_type") or _SQL_TYPES.get(base, "STRING")),
                required=info.is_required(),
                when_null=str(extra.get("when_null") or f"missing {name}"),
                checked_as=str(extra.get("checked_as") or (f"`{name}`" if name in _RESERVED else name)),
                greater_than=_float(bound(Gt, "gt")),
                flink_type=str(extra.get("flink_type") or extra.get("sql_type") or _SQL_TYPES.get(base, "STRING")),
                less_than=_float(bound(Lt, "lt")),
                minimum=_float(bound(Ge, "ge")),
                maximum=_float(bound(Le, "le")),
                min_length=bound(MinLen, "min_length"),
                max_length=bound(MaxLen, "max_length"),
                pattern=pattern,
                choices=_choices(info.annotation),
            )
        )
    return tuple(out)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _choices(annotation: Any) -> tuple[str, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(str(m.value) for m in annotation)
    return ()


@dataclass(frozen=True)
class Records:
    """What templates see as `records`: each record's columns."""

    transaction: tuple[Column, ...]
    detection: tuple[Column, ...]
    blacklist: tuple[Column, ...]
    context: tuple[Column, ...]

    @property
    def transaction_required(self) -> tuple[Column, ...]:
        return tuple(c for c in self.transaction if c.required)

    @property
    def transaction_row(self) -> str:
        """The transaction as one engine ROW type (an enriched transaction's `transaction`)."""
        return "ROW<" + ", ".join(f"{c.quoted} {c.sql_type}" for c in self.transaction) + ">"

    @property
    def context_row(self) -> str:
        """Its context as one engine ROW type (contract.TransactionContext)."""
        return "ROW<" + ", ".join(f"{c.name} {c.sql_type}" for c in self.context) + ">"


def records(transaction: type[BaseModel] | None = None) -> Records:
    return Records(
        transaction=columns(transaction or Transaction),
        detection=columns(RuleHit),
        blacklist=tuple(c for c in columns(BlacklistEntry) if c.name != "user_id"),  # the key
        context=columns(TransactionContext),
    )


# Keys of `json_schema_extra` that only the renderers above read: not part of the published schema.
_RENDERER_KEYS = frozenset({"sql_type", "flink_type", "when_null", "checked_as", "stored_in_postgres"})


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The record as a JSON Schema (draft 2020-12, pydantic's rendering), as the schema registry
    publishes it to the topic's other readers (SIEM, analysts' tools)."""

    def clean(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: clean(v) for k, v in node.items() if k not in _RENDERER_KEYS}
        if isinstance(node, list):
            return [clean(v) for v in node]
        return node

    schema: dict[str, Any] = clean(model.model_json_schema(mode="serialization"))
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    # A reader must not refuse a record for a field added later (a new optional field is one line
    # in the model above); the engines' own checks stay strict.
    schema["additionalProperties"] = True
    return schema

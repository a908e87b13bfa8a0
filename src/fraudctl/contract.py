"""The transaction record: the contract every component shares (producer, stream engines, scoring
service, scenarios, generator). Defined once, here."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Channel(StrEnum):
    pos = "pos"
    ecom = "ecom"
    atm = "atm"


class Transaction(BaseModel):
    """One payment. Topic `transactions`, keyed by user_id; event time is `timestamp`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transaction_id: str = Field(min_length=1, max_length=128)
    user_id: str = Field(min_length=1, max_length=128)
    amount: float = Field(gt=0, lt=1e12, allow_inf_nan=False)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    timestamp: str = Field(description="RFC 3339 event time in UTC, for example 2024-11-16T14:00:00Z")
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

"""The record contract published to the environment's schema registry (Confluent's REST API):
one JSON Schema subject per topic the pipeline writes records of the contract to, named by the
registry's default TopicNameStrategy (`<topic>-value`).

The registry is the gate for a contract change: an update the subject's compatibility rule
refuses is a REFUSED entry of the plan, with the registry's reasons, and nothing is applied.
Subjects are never deleted (other teams' readers resolve old schema ids through them)."""

from __future__ import annotations

import json
from typing import Any

import requests
from pydantic import BaseModel

from fraudctl.config.project import DETECTIONS
from fraudctl.config.targets import ALERTS, TRANSACTIONS
from fraudctl.contract import Alert, Detection, Transaction, json_schema
from fraudctl.deploy import diff
from fraudctl.deploy.model import CREATE, REFUSED, UPDATE, Change, Resource, checksum
from fraudctl.deploy.providers import ReadyWhenWritten
from fraudctl.deploy.state import Record

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
RECORDS: dict[str, type[BaseModel]] = {TRANSACTIONS: Transaction, DETECTIONS: Detection, ALERTS: Alert}


class SchemaRegistryError(Exception):
    pass


class SchemaRegistryClient:
    """The few calls fraudctl makes, with the environment's basic auth on every one."""

    def __init__(self, url: str, auth: tuple[str, str] | None) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Accept"] = CONTENT_TYPE
        if auth:
            self.http.auth = auth

    def subjects(self) -> list[str]:
        return list(self._call("GET", "/subjects").json())

    def latest(self, subject: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/subjects/{subject}/versions/latest").json())

    def incompatibilities(self, subject: str, schema: dict[str, Any]) -> list[str]:
        """Why the registry would refuse `schema` as the subject's next version ([]: it would not)."""
        body = self._call(
            "POST", f"/compatibility/subjects/{subject}/versions/latest?verbose=true", _request(schema)
        ).json()
        if body.get("is_compatible"):
            return []
        return [str(m) for m in body.get("messages") or ["incompatible (the registry gave no reason)"]]

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        return int(self._call("POST", f"/subjects/{subject}/versions", _request(schema)).json()["id"])

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        try:
            resp = self.http.request(
                method, self.url + path, json=body, timeout=30, headers={"Content-Type": CONTENT_TYPE}
            )
        except requests.RequestException as exc:
            raise SchemaRegistryError(f"{method} {self.url}{path}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 300:
            raise SchemaRegistryError(f"{method} {self.url}{path}: HTTP {resp.status_code}: {resp.text[:300]}")
        return resp


def _request(schema: dict[str, Any]) -> dict[str, Any]:
    return {"schemaType": "JSON", "schema": json.dumps(schema, sort_keys=True)}


def subject_of(topic: str) -> str:
    return f"{topic}-value"


class SchemaSubjectProvider(ReadyWhenWritten):
    kind = "schema-subject"

    def __init__(self, client: SchemaRegistryClient, records: dict[str, type[BaseModel]] | None = None) -> None:
        self.client = client
        self.schemas = {subject_of(topic): json_schema(model) for topic, model in (records or RECORDS).items()}
        self.writes = 0

    def desired(self) -> dict[str, Resource]:
        return {s: Resource(self.kind, s, {"checksum": checksum(schema)}) for s, schema in self.schemas.items()}

    def actual(self, desired: dict[str, Resource], records: dict[tuple[str, str], Record]) -> dict[str, Resource]:
        live = set(self.client.subjects())
        out: dict[str, Resource] = {}
        for subject in sorted(live & (set(desired) | {name for kind, name in records if kind == self.kind})):
            latest = self.client.latest(subject)
            if latest.get("schemaType") != "JSON":
                spec = {"checksum": None, "type": latest.get("schemaType", "AVRO")}
            else:
                spec = {"checksum": checksum(json.loads(latest["schema"]))}
            out[subject] = Resource(self.kind, subject, spec)
        return out

    def plan(
        self, desired: dict[str, Resource], actual: dict[str, Resource], managed: set[str], prune: bool
    ) -> list[Change]:
        changes = diff.never_deleted(
            diff.compute(self.kind, desired, actual, managed, prune),
            "no longer in the repo; schema subjects are never deleted (readers resolve old ids through them)",
        )
        out = []
        for change in changes:
            if change.op == UPDATE:
                reasons = self.client.incompatibilities(change.name, self.schemas[change.name])
                if reasons:
                    note = "the registry refuses this contract change: " + "; ".join(reasons)
                    change = Change(change.kind, change.name, REFUSED, change.fields, note, change.desired)
            out.append(change)
        return out

    def apply(self, change: Change) -> None:
        if change.op in (CREATE, UPDATE):
            self.client.register(change.name, self.schemas[change.name])
            self.writes += 1

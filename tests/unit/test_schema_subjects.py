"""The record contract's schema subjects: what plan computes against a registry's answers. The
registry here is an in-memory stand-in behind a requests adapter, answering the four calls of
Confluent's REST API fraudctl makes (the logic under test is fraudctl's, not the registry's)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict
from requests.adapters import BaseAdapter

from fraudctl.contract import Transaction, json_schema
from fraudctl.deploy.model import CREATE, NOOP, ORPHAN, REFUSED, UPDATE, Change
from fraudctl.deploy.providers.schema_subjects import SchemaRegistryClient, SchemaSubjectProvider
from fraudctl.deploy.state import Record

URL = "https://registry.test"


class Registry(BaseAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.subjects: dict[str, list[dict[str, Any]]] = {}
        self.refuse: list[str] = []  # reasons the compatibility check gives (empty: compatible)
        self.calls: list[str] = []

    def send(self, request: requests.PreparedRequest, **_kw: Any) -> requests.Response:
        path = (request.path_url or "").split("?")[0]
        self.calls.append(f"{request.method} {path}")
        body = json.loads(request.body) if request.body else None
        parts = path.strip("/").split("/")
        if path == "/subjects":
            return _answer(sorted(self.subjects))
        if parts[0] == "subjects" and parts[2:] == ["versions", "latest"]:
            return _answer(self.subjects[parts[1]][-1])
        if parts[0] == "subjects" and parts[2:] == ["versions"] and body:
            versions = self.subjects.setdefault(parts[1], [])
            versions.append({**body, "version": len(versions) + 1, "id": 100 + len(versions)})
            return _answer({"id": versions[-1]["id"]})
        if parts[0] == "compatibility":
            return _answer({"is_compatible": not self.refuse, "messages": self.refuse})
        return _answer({"error_code": 404}, 404)

    def close(self) -> None:
        pass


def _answer(body: object, status: int = 200) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    return response


class Tiny(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str


def _provider(registry: Registry, records: dict[str, type[BaseModel]] | None = None) -> SchemaSubjectProvider:
    client = SchemaRegistryClient(URL, ("fraud-pipeline", "pw"))
    client.http.mount("https://", registry)
    return SchemaSubjectProvider(client, records)


def _plan(provider: SchemaSubjectProvider, managed: frozenset[str] = frozenset()) -> dict[str, Change]:
    desired = provider.desired()
    now = datetime.now(UTC)
    records = {("schema-subject", m): Record("schema-subject", m, "", {}, 1, now) for m in managed}
    actual = provider.actual(desired, records)
    return {c.name: c for c in provider.plan(desired, actual, set(managed), prune=True)}


def test_absent_subjects_are_created_then_unchanged() -> None:
    registry = Registry()
    provider = _provider(registry)
    plan = _plan(provider)
    assert {name: c.op for name, c in plan.items()} == {
        "transactions-value": CREATE,
        "detections-value": CREATE,
        "fraud-alerts-value": CREATE,
    }
    for change in plan.values():
        provider.apply(change)
    registered = json.loads(registry.subjects["transactions-value"][0]["schema"])
    assert registered == json_schema(Transaction)
    assert registry.subjects["transactions-value"][0]["schemaType"] == "JSON"
    assert {c.op for c in _plan(provider).values()} == {NOOP}


def test_a_change_the_registry_refuses_is_a_refused_entry_with_its_reasons() -> None:
    registry = Registry()
    provider = _provider(registry, {"t": Tiny})
    for change in _plan(provider).values():
        provider.apply(change)

    class Wider(BaseModel):
        id: str
        amount: float

    changed = _provider(registry, {"t": Wider})
    assert _plan(changed)["t-value"].op == UPDATE  # compatible: a new version
    registry.refuse = ["required property 'amount' added"]
    refused = _plan(changed)["t-value"]
    assert refused.op == REFUSED and "required property 'amount' added" in refused.note
    assert "POST /subjects/t-value/versions" not in registry.calls[-3:]


def test_subjects_are_never_deleted_and_others_subjects_are_not_read() -> None:
    registry = Registry()
    registry.subjects["other-team-value"] = [{"schemaType": "AVRO", "schema": "{}"}]
    old = _provider(registry, {"gone": Tiny})
    for change in _plan(old).values():
        old.apply(change)
    plan = _plan(_provider(registry, {"t": Tiny}), managed=frozenset({"gone-value"}))
    assert plan["gone-value"].op == ORPHAN and "never deleted" in plan["gone-value"].note
    assert "other-team-value" not in plan
    assert "GET /subjects/other-team-value/versions/latest" not in registry.calls

"""Retention of the S3 archives: one lifecycle rule on the environment's bucket per s3-archive
connector that declares `retention` (objects under its prefix expire after that many days).

Rules fraudctl manages have the id `fraudctl:<connector>`; the bucket's other rules are read,
kept and written back untouched (S3 replaces the whole lifecycle configuration on every write)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from fraudctl.config.settings import Settings
from fraudctl.deploy.model import CREATE, DELETE, UPDATE, Change, Resource
from fraudctl.deploy.providers import ReadyWhenWritten
from fraudctl.deploy.state import Record
from fraudctl.objectstore import s3_client
from fraudctl.render.connectors import RenderedConnector

PREFIX = "fraudctl:"


def retention_rules(connectors: list[RenderedConnector]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for c in connectors:
        intent = c.intent.value or {}
        if intent.get("kind") == "s3-archive" and intent.get("retention"):
            out[c.name] = {"prefix": str(intent["target"]["prefix"]), "days": int(str(intent["retention"])[:-1])}
    return out


class S3LifecycleProvider(ReadyWhenWritten):
    kind = "s3-lifecycle"

    def __init__(self, env: Settings, connectors: list[RenderedConnector]) -> None:
        self.env = env
        self.bucket = env.need("s3").bucket
        self.rules = retention_rules(connectors)
        self.writes = 0
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(self.env)
        return self._client

    def desired(self) -> dict[str, Resource]:
        return {name: Resource(self.kind, name, spec) for name, spec in self.rules.items()}

    def actual(self, desired: dict[str, Resource], records: dict[tuple[str, str], Record]) -> dict[str, Resource]:
        if not desired and not any(kind == self.kind for kind, _ in records):
            return {}  # nothing to manage: do not even ask the store
        out: dict[str, Resource] = {}
        for rule in self._read():
            rule_id = str(rule.get("ID", ""))
            if rule_id.startswith(PREFIX):
                name = rule_id[len(PREFIX) :]
                spec = {"prefix": (rule.get("Filter") or {}).get("Prefix", ""), "days": rule["Expiration"]["Days"]}
                out[name] = Resource(self.kind, name, spec)
        return out

    def apply(self, change: Change) -> None:
        rules = [r for r in self._read() if r.get("ID") != PREFIX + change.name]
        if change.op in (CREATE, UPDATE):
            spec = self.rules[change.name]
            rules.append(
                {
                    "ID": PREFIX + change.name,
                    "Filter": {"Prefix": spec["prefix"]},
                    "Status": "Enabled",
                    "Expiration": {"Days": spec["days"]},
                }
            )
        elif change.op != DELETE:
            return
        if rules:
            self.client.put_bucket_lifecycle_configuration(Bucket=self.bucket, LifecycleConfiguration={"Rules": rules})
        else:
            self.client.delete_bucket_lifecycle(Bucket=self.bucket)
        self.writes += 1

    def _read(self) -> list[dict[str, Any]]:
        try:
            return list(self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket).get("Rules", []))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
                return []
            raise

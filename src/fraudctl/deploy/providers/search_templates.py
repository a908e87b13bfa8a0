"""Index templates of the search cluster (search/*.json), installed before the connectors write.

The live template carries `_meta: {managed_by: fraudctl, checksum}`: the actual state is read from
the cluster (a template edited or removed by hand shows as drift), and only templates marked as
fraudctl's are ever deleted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from fraudctl.deploy.model import CREATE, DELETE, UPDATE, Change, Resource, checksum
from fraudctl.deploy.providers import ReadyWhenWritten
from fraudctl.deploy.state import Record

MANAGED_BY = "fraudctl"


class SearchTemplateError(Exception):
    pass


class SearchTemplateProvider(ReadyWhenWritten):
    kind = "search-template"

    def __init__(self, folder: Path, url: str, auth: tuple[str, str] | None) -> None:
        self.bodies: dict[str, dict[str, Any]] = {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                self.bodies[path.stem] = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise SearchTemplateError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
        self.url = url.rstrip("/")
        self.http = requests.Session()
        if auth:
            self.http.auth = auth
        self.writes = 0

    def desired(self) -> dict[str, Resource]:
        return {name: Resource(self.kind, name, {"checksum": checksum(body)}) for name, body in self.bodies.items()}

    def actual(self, desired: dict[str, Resource], records: dict[tuple[str, str], Record]) -> dict[str, Resource]:
        resp = self._call("GET", "/_index_template")
        out: dict[str, Resource] = {}
        for item in resp.json().get("index_templates", []):
            meta = item["index_template"].get("_meta") or {}
            if meta.get("managed_by") == MANAGED_BY:
                out[item["name"]] = Resource(self.kind, item["name"], {"checksum": meta.get("checksum")})
        return out

    def apply(self, change: Change) -> None:
        if change.op in (CREATE, UPDATE):
            body = dict(self.bodies[change.name])
            body["_meta"] = {**(body.get("_meta") or {}), "managed_by": MANAGED_BY, "checksum": checksum(body)}
            self._call("PUT", f"/_index_template/{change.name}", body)
        elif change.op == DELETE:
            self._call("DELETE", f"/_index_template/{change.name}")
        self.writes += 1

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        try:
            resp = self.http.request(method, self.url + path, json=body, timeout=30)
        except requests.RequestException as exc:
            raise SearchTemplateError(f"{method} {self.url}{path}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 300:
            raise SearchTemplateError(f"{method} {self.url}{path}: HTTP {resp.status_code}: {resp.text[:300]}")
        return resp

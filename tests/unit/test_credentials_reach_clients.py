"""prod's credentials reach the clients the deploy engine talks through: a recording transport (a
requests adapter that answers locally) sees the Authorization header each client sends. No service
is involved; this checks what fraudctl puts on the wire."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import certifi
import pytest
import requests
from requests.adapters import BaseAdapter

from fraudctl.config.project import copy_declarations, load_project
from fraudctl.deploy.engine import Deployment
from fraudctl.deploy.providers.connectors import ConnectorProvider
from fraudctl.deploy.providers.ksql_statements import KsqlStatementProvider
from fraudctl.deploy.providers.search_templates import SearchTemplateProvider

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "KAFKA_SASL_PASSWORD": "kafka-secret",
    "CONNECT_PASSWORD": "connect-secret",
    "KSQLDB_PASSWORD": "ksqldb-secret",
    "SEARCH_PASSWORD": "search-secret",
    "SCHEMA_REGISTRY_PASSWORD": "registry-secret",
}


class Recording(BaseAdapter):
    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body
        self.headers: list[str | None] = []

    def send(self, request: requests.PreparedRequest, **_kw: Any) -> requests.Response:
        self.headers.append(request.headers.get("Authorization"))
        response = requests.Response()
        response.status_code = 200
        response._content = self.body
        response.request = request
        return response

    def close(self) -> None:
        pass


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def prod(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Deployment:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    # prod reads some secrets from a properties file on its hosts: a copy of the repo points at one here.
    home = copy_declarations(ROOT, tmp_path / "repo")
    secrets_file = tmp_path / "secrets.properties"
    secrets_file.write_text("postgres.password=pg-secret\nsearch.password=search-secret\n")
    env_file = home / "environments/prod.yaml"
    text = env_file.read_text().replace("/etc/fraud/secrets.properties", str(secrets_file))
    env_file.write_text(text.replace("/etc/fraud/tls/ca.pem", certifi.where()))  # a CA file that exists here
    project, problems = load_project(home)
    assert not problems
    return Deployment.build(project, "prod")


def test_ksqldb_gets_prods_ksqldb_auth(prod: Deployment) -> None:
    provider = prod.providers["ksql-statement"]
    assert isinstance(provider, KsqlStatementProvider)
    adapter = Recording(b'[{"@type": "streams", "streams": []}]')
    provider.client.http.mount("https://", adapter)
    provider.client.execute("LIST STREAMS")
    auth = prod.env["ksqldb"]["auth"]
    assert adapter.headers == [_basic(auth["username"], "ksqldb-secret")]


def test_connect_gets_prods_connect_auth(prod: Deployment) -> None:
    provider = prod.providers["connector"]
    assert isinstance(provider, ConnectorProvider)
    adapter = Recording(b"{}")
    provider.client.http.mount("https://", adapter)
    provider.client.connectors()
    auth = prod.env["connect"]["auth"]
    assert adapter.headers == [_basic(auth["username"], "connect-secret")]


def test_search_gets_prods_search_auth(prod: Deployment) -> None:
    provider = prod.providers["search-template"]
    assert isinstance(provider, SearchTemplateProvider)
    adapter = Recording(b"{}")
    provider.http.mount("https://", adapter)
    provider.http.get(f"{provider.url}/_index_template")
    search = prod.env["search"]
    assert adapter.headers == [_basic(search["username"], "search-secret")]


def test_file_references_resolve_like_connects_file_provider(tmp_path: Path) -> None:
    from fraudctl.config.secrets import resolve

    path = tmp_path / "s.properties"
    path.write_text("# comment\npostgres.password = p=w:d \nother: x\n")
    assert resolve(f"${{file:{path}:postgres.password}}") == "p=w:d"
    assert resolve(f"${{file:{path}:other}}") == "x"
    with pytest.raises(KeyError, match="has no key 'missing'"):
        resolve(f"${{file:{path}:missing}}")
    with pytest.raises(KeyError, match="cannot read"):
        resolve(f"${{file:{tmp_path}/none:k}}")

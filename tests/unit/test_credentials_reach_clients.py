"""prod's credentials reach the clients the deploy engine talks through: a recording transport (a
requests adapter that answers locally) sees the Authorization header each client sends. No service
is involved; this checks what fraudctl puts on the wire."""

from __future__ import annotations

import base64
from collections.abc import Callable
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
from fraudctl.deploy.providers.schema_subjects import SchemaSubjectProvider
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


def _ksqldb(dep: Deployment) -> tuple[requests.Session, Callable[[], object]]:
    provider = dep.providers["ksql-statement"]
    assert isinstance(provider, KsqlStatementProvider)
    return provider.client.http, lambda: provider.client.execute("LIST STREAMS")


def _connect(dep: Deployment) -> tuple[requests.Session, Callable[[], object]]:
    provider = dep.providers["connector"]
    assert isinstance(provider, ConnectorProvider)
    return provider.client.http, provider.client.connectors


def _search(dep: Deployment) -> tuple[requests.Session, Callable[[], object]]:
    provider = dep.providers["search-template"]
    assert isinstance(provider, SearchTemplateProvider)
    return provider.http, lambda: provider.http.get(f"{provider.url}/_index_template")


def _schema_registry(dep: Deployment) -> tuple[requests.Session, Callable[[], object]]:
    provider = dep.providers["schema-subject"]
    assert isinstance(provider, SchemaSubjectProvider)
    return provider.client.http, lambda: provider.actual(provider.desired(), {})


@pytest.mark.parametrize(
    ("client", "body", "user_key", "secret"),
    [
        (_ksqldb, b'[{"@type": "streams", "streams": []}]', "ksqldb.auth.username", "ksqldb-secret"),
        (_connect, b"{}", "connect.auth.username", "connect-secret"),
        (_search, b"{}", "search.auth.username", "search-secret"),
        (_schema_registry, b"[]", "schema_registry.auth.username", "registry-secret"),
    ],
)
def test_each_client_sends_prods_credentials(
    prod: Deployment,
    client: Callable[[Deployment], tuple[requests.Session, Callable[[], object]]],
    body: bytes,
    user_key: str,
    secret: str,
) -> None:
    session, call = client(prod)
    adapter = Recording(body)
    session.mount("https://", adapter)
    call()
    user: object = prod.env
    for part in user_key.split("."):
        user = getattr(user, part)
    assert adapter.headers == [_basic(str(user), secret)]


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

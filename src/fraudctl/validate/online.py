"""`validate --online`: Connect's own validator (PUT /connector-plugins/{class}/config/validate) for
every rendered connector, its errors reported like the offline ones."""

from __future__ import annotations

from pathlib import Path

import requests

from fraudctl.config.project import load_project
from fraudctl.config.source import Problem
from fraudctl.localstack import secrets as local_secrets
from fraudctl.localstack.layout import Layout
from fraudctl.render.pipeline import Rendered


def validate_online(root: Path, env_name: str, rendered: Rendered) -> list[Problem]:
    project, _ = load_project(root)
    env = project.settings(env_name)
    url = env.connect.url.rstrip("/")
    if project.on_local_stack(env_name):
        local_secrets.export(Layout.default().secrets_file)
    auth = env.connect.auth_pair()
    problems: list[Problem] = []
    for connector in rendered.connectors:
        cls = connector.config["connector.class"]
        try:
            resp = requests.put(
                f"{url}/connector-plugins/{cls}/config/validate", json=connector.config, auth=auth, timeout=60
            )
        except requests.RequestException as exc:
            problems.append(Problem(connector.intent.file, None, "", f"Connect at {url} unreachable: {exc}"))
            continue
        if resp.status_code != 200:
            problems.append(
                Problem(
                    connector.intent.file,
                    None,
                    "connector.class",
                    f"Connect refused validation (HTTP {resp.status_code}): {resp.text[:300]}",
                )
            )
            continue
        for entry in resp.json().get("configs", []):
            value = entry.get("value", {})
            for error in value.get("errors", []):
                key = value.get("name", "")
                file, line = connector.origins.get(key, (connector.intent.file, None))
                problems.append(Problem(file, line, key, f"Connect: {error}"))
    return problems

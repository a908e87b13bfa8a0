"""Rendered `oss` connector configs against the real local Connect worker's validate endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudctl.config.source import Problem
from fraudctl.validate.online import validate_online
from fraudctl.validate.run import validate
from tests.conftest import Endpoints
from tests.unit.test_validate_corpus import ROOT, copy_repo, edit

pytestmark = pytest.mark.stack


def test_rendered_oss_configs_are_accepted_by_connect(local_stack: Endpoints) -> None:
    report = validate(ROOT, ["local"])
    assert report.ok, [p.text() for p in report.problems]
    rendered = report.rendered["local"]
    assert {c.config["connector.class"] for c in rendered.connectors} == {
        "io.debezium.connector.jdbc.JdbcSinkConnector",
        "io.debezium.connector.postgresql.PostgresConnector",
        "io.github.fraudpipeline.connect.s3.S3ArchiveSinkConnector",
        "io.github.fraudpipeline.connect.search.SearchSinkConnector",
    }
    assert validate_online(ROOT, "local", rendered) == []


def test_connect_errors_point_at_the_intent_line(local_stack: Endpoints, tmp_path: Path) -> None:
    # A value only Connect's own ConfigDef rejects (the offline key table checks the type only).
    root = copy_repo(tmp_path)
    line = edit(root / "connectors/alerts-search.yaml", "errors:", "overrides:\n  oss:\n    max.retries: -1\nerrors:")
    report = validate(root, ["local"])
    assert report.ok, [p.text() for p in report.problems]
    problems = validate_online(root, "local", report.rendered["local"])
    assert problems == [
        Problem(
            "connectors/alerts-search.yaml",
            line + 2,
            "max.retries",
            "Connect: Invalid value -1 for configuration max.retries: Value must be at least 0",
        )
    ]

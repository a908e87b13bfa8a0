"""ksqlDB runs only where a Docker engine exists (Confluent's images, through testcontainers).
Without one these tests are skipped, and pytest prints why."""

from __future__ import annotations

import pytest
import requests

from tests.ksqldb.conftest import Ksql

pytestmark = pytest.mark.ksqldb


def test_ksqldb_server_answers_info(ksqldb: Ksql) -> None:
    info = requests.get(f"{ksqldb.url}/info", timeout=10).json()
    assert info["KsqlServerInfo"]["serverStatus"] == "RUNNING"

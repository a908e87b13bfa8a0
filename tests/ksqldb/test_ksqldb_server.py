"""The server the ksqlDB suite runs against answers and is ready (printed: where it came from)."""

from __future__ import annotations

import pytest

from fraudctl.ksqldb.client import KsqlClient
from tests.ksqldb.conftest import Ksql

pytestmark = pytest.mark.ksqldb


def test_ksqldb_server_answers_info(ksqldb: Ksql, capsys: pytest.CaptureFixture[str]) -> None:
    info = KsqlClient(ksqldb.url).info()
    with capsys.disabled():
        print(f"\n[ksqldb] {ksqldb.url} ({ksqldb.source}): version {info.get('version')}, kafka {ksqldb.bootstrap}")
    assert info["serverStatus"] == "RUNNING"

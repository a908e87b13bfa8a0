"""The enrichment step's own logic, without Kafka or the service: the transactional identity it
derives, and how it isolates the records a scoring service refuses. The service's answers come
from a requests adapter (what is under test is the step, not the service)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from udf_service.enrichment import Enricher, EnrichmentConfig, ParseError, Refused, to_request, transactional_id


def test_the_transactional_id_names_the_group_and_the_partitions() -> None:
    assert transactional_id("fraud-enrichment", [("detections", 2), ("detections", 0)]) == (
        "fraud-enrichment;detections:0,2"
    )
    # Two instances of one group own different partitions, so they never fence each other; the
    # same instance restarted with the same partitions gets the same id (and fences its predecessor).
    assert transactional_id("g", [("d", 0)]) != transactional_id("g", [("d", 1)])
    assert transactional_id("g", [("d", 1), ("d", 0)]) == transactional_id("g", [("d", 0), ("d", 1)])


class Service(BaseAdapter):
    """Answers 422 for any request holding a transaction whose id starts with 'bad'."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def send(self, request: requests.PreparedRequest, **_kw: Any) -> requests.Response:
        self.calls += 1
        items = json.loads(request.body or b"{}")["transactions"]
        response = requests.Response()
        if any(i["transaction"]["transaction_id"].startswith("bad") for i in items):
            response.status_code, body = 422, {"detail": "unknown field"}
        else:
            response.status_code = 200
            body = {"results": [{"transaction_id": i["transaction"]["transaction_id"]} for i in items]}
        response._content = json.dumps(body).encode()
        return response

    def close(self) -> None:
        pass


def _item(tx_id: str) -> dict[str, Any]:
    return {"transaction": {"transaction_id": tx_id}, "context": {}}


def test_a_refused_record_is_found_alone_and_the_others_are_scored() -> None:
    enricher = Enricher(EnrichmentConfig("127.0.0.1:1", "http://scoring.test", token="t"))
    service = Service()
    http = requests.Session()
    http.mount("http://", service)
    items = [_item(f"t{i}") for i in range(8)]
    items[5] = _item("bad5")
    results = enricher._score_part(http, items)
    assert [isinstance(r, Refused) for r in results] == [i == 5 for i in range(8)]
    assert "HTTP 422" in str(results[5])
    assert [r["transaction_id"] for r in results if not isinstance(r, Refused)] == [f"t{i}" for i in range(8) if i != 5]
    assert service.calls <= 1 + 2 * 3  # halving: at most two requests per level below the first


def test_an_unknown_rule_is_refused_before_the_service_is_called() -> None:
    detection = {
        "alert_id": "no_such_rule:t1",
        "rule_id": "FR-999",
        "severity": "low",
        "transaction_id": "t1",
        "user_id": "U1",
        "amount": 10.0,
        "currency": "EUR",
        "event_time": "2024-11-16 14:00:00",
        "location": "Paris",
        "rule": "no_such_rule",
    }
    with pytest.raises(ParseError, match=r"unknown rule\(s\) \['no_such_rule'\]"):
        to_request(detection)


def test_a_detection_that_breaks_its_contract_is_refused_with_the_field() -> None:
    good = {
        "alert_id": "high_value:t1",
        "rule": "high_value",
        "rule_id": "FR-003",
        "severity": "medium",
        "transaction_id": "t1",
        "user_id": "U1",
        "amount": 10.0,
        "currency": "EUR",
        "event_time": "2024-11-16 14:00:00.000",
        "location": "Paris",
    }
    assert to_request(good)["transaction"]["timestamp"] == "2024-11-16T14:00:00Z"
    for field, bad in (("severity", "apocalyptic"), ("evidence", "e" * 9000), ("event_time", "2024-13-45 10:00:00")):
        with pytest.raises(ParseError, match=f"violates the detection contract: {field}"):
            to_request({**good, field: bad})
    with pytest.raises(ParseError, match="violates the detection contract: alert_id: Field required"):
        to_request({k: v for k, v in good.items() if k != "alert_id"})

"""The enrichment step's own logic, without Kafka or the service: the transactional identity it
derives, and how it isolates the records a scoring service refuses. The service's answers come
from a requests adapter (what is under test is the step, not the service)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from fraudctl.contract import MODEL_RULE, Alert, ScoredTransaction
from udf_service.enrichment import (
    Enricher,
    EnrichmentConfig,
    ParseError,
    Refused,
    alert_of,
    enriched_request,
    model_alert,
    raises_model_alert,
    scored_of,
    to_request,
    transactional_id,
)


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


def _hit(**fields: Any) -> dict[str, Any]:
    """A high_value hit on t1 that holds to the detection contract."""
    return {
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
        **fields,
    }


def test_a_detection_that_breaks_its_contract_is_refused_with_the_field() -> None:
    good = _hit()
    assert to_request(good)["transaction"]["timestamp"] == "2024-11-16T14:00:00Z"
    for field, bad in (("severity", "apocalyptic"), ("evidence", "e" * 9000), ("event_time", "2024-13-45 10:00:00")):
        with pytest.raises(ParseError, match=f"violates the detection contract: {field}"):
            to_request({**good, field: bad})
    with pytest.raises(ParseError, match="violates the detection contract: alert_id: Field required"):
        to_request({k: v for k, v in good.items() if k != "alert_id"})


_TX = {
    "transaction_id": "t1",
    "user_id": "U1",
    "amount": 40.0,
    "currency": "EUR",
    "timestamp": "2024-11-16T03:00:00.250Z",
    "location": "Paris",
    "channel": "atm",
    "merchant_category": "gambling",
}
_CONTEXT = {"rules_fired": [], "txn_count_1h": 1, "history_count": 12, "user_avg_amount": 38.0, "new_merchant": True}
_SCORE = {
    "transaction_id": "t1",
    "risk_score": 0.91,
    "model_version": "m7",
    "reasons": ["channel_atm"],
    "features": [1.0],
}


def test_an_enriched_transaction_is_the_request_and_breaks_nothing_it_carries() -> None:
    record = {"transaction": _TX, "context": _CONTEXT}
    assert enriched_request(record) == record
    with pytest.raises(ParseError, match="violates the enriched transaction contract: context.rules_fired"):
        enriched_request({"transaction": _TX, "context": {**_CONTEXT, "rules_fired": ["no_such_rule"]}})
    with pytest.raises(ParseError, match="violates the enriched transaction contract: transaction.amount"):
        enriched_request({"transaction": {**_TX, "amount": -1}, "context": _CONTEXT})
    with pytest.raises(ParseError, match="context: Field required"):
        enriched_request({"transaction": _TX})


def test_a_hit_with_its_transaction_is_scored_on_it_and_the_alert_keeps_only_the_hit() -> None:
    hit = _hit(amount=40.0, event_time="2024-11-16 03:00:00.250")
    detection = {**hit, "transaction": _TX, "context": {**_CONTEXT, "rules_fired": ["high_value"]}}
    assert to_request(detection) == {"transaction": _TX, "context": detection["context"]}
    alert = alert_of(detection, _SCORE)
    assert alert == {**hit, "risk_score": 0.91, "model_version": "m7", "reasons": ["channel_atm"]}
    Alert.model_validate(alert)


def test_a_model_alert_names_the_model_and_its_reasons_and_holds_to_the_alert_contract() -> None:
    record = {"transaction": _TX, "context": _CONTEXT}
    alert = model_alert(record, _SCORE, 0.8, "high")
    Alert.model_validate(alert)
    assert alert["alert_id"] == f"{MODEL_RULE}:t1" and alert["rule"] == MODEL_RULE
    assert alert["event_time"] == alert["window_start"] == "2024-11-16 03:00:00.250"
    evidence = json.loads(alert["evidence"])
    assert evidence == {
        "model_version": "m7",
        "risk_score": 0.91,
        "threshold": 0.8,
        "reasons": ["channel_atm"],
    }
    # One alert per suspicious transaction: where a rule fired, its alert carries the score.
    assert raises_model_alert(record, _SCORE, 0.8)
    assert not raises_model_alert(record, {**_SCORE, "risk_score": 0.79}, 0.8)
    assert not raises_model_alert({**record, "context": {**_CONTEXT, "rules_fired": ["high_value"]}}, _SCORE, 0.8)
    scored = scored_of(record, _SCORE)
    ScoredTransaction.model_validate(scored)
    assert scored["features"] == [1.0] and scored["transaction"] == _TX

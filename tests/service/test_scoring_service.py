"""The scoring service over real HTTP: scores, every kind of invalid input, auth, metrics, a model
swap under load, and schema-driven fuzzing of its OpenAPI document (no 5xx)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from tests.service.conftest import ROOT, Service

TX = {
    "transaction_id": "t1",
    "user_id": "U1",
    "amount": 2500.0,
    "currency": "GBP",
    "timestamp": "2024-11-16T03:00:00Z",
    "location": "London",
    "channel": "atm",
    "merchant_category": "crypto",
}
RISKY = {
    "transaction": TX,
    "context": {"rules_fired": ["high_value", "new_device"], "txn_count_1h": 6, "user_avg_amount": 40},
}
ORDINARY = {
    "transaction": {
        **TX,
        "transaction_id": "t2",
        "amount": 25.0,
        "timestamp": "2024-11-16T13:00:00Z",
        "channel": "pos",
        "merchant_category": "grocery",
    },
    "context": {"user_avg_amount": 30},
}


def post(svc: Service, path: str, body: object, **kw: object) -> requests.Response:
    """A request as the enrichment step sends it: with the service's token (unless `headers` given)."""
    kw.setdefault("headers", svc.auth)
    return requests.post(f"{svc.url}{path}", json=body, timeout=10, **kw)  # type: ignore[arg-type]


def test_scores_come_back_for_valid_input(service: Service) -> None:
    risky = post(service, "/v1/score", RISKY).json()
    ordinary = post(service, "/v1/score", ORDINARY).json()
    assert risky["transaction_id"] == "t1" and 0 <= ordinary["risk_score"] < risky["risk_score"] <= 1
    assert risky["model_version"] == json.loads((service.model_link / "metadata.json").read_text())["version"]
    assert risky["reasons"] and set(risky["reasons"]) <= set(
        json.loads((service.model_link / "metadata.json").read_text())["features"]
    )


def test_batch_keeps_order_and_matches_single_scores(service: Service) -> None:
    items = [ORDINARY, RISKY, ORDINARY]
    results = post(service, "/v1/score/batch", {"transactions": items}).json()["results"]
    assert [r["transaction_id"] for r in results] == ["t2", "t1", "t2"]
    single = post(service, "/v1/score", RISKY).json()["risk_score"]
    assert abs(results[1]["risk_score"] - single) < 1e-6


def test_invalid_input_gets_the_right_4xx_naming_the_field(service: Service) -> None:
    bad = {"transaction": {**TX, "amount": -5, "currency": "gbp"}}
    detail = post(service, "/v1/score", bad).json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {
        ("body", "transaction", "amount"),
        ("body", "transaction", "currency"),
    }
    missing = post(service, "/v1/score", {"transaction": {k: v for k, v in TX.items() if k != "user_id"}})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == [
        "body",
        "transaction",
        "user_id",
    ]
    unknown_rule = post(service, "/v1/score", {"transaction": TX, "context": {"rules_fired": ["made_up"]}})
    assert unknown_rule.status_code == 422 and "made_up" in unknown_rule.text
    not_json = requests.post(
        f"{service.url}/v1/score",
        data=b"{not json",
        timeout=5,
        headers={"content-type": "application/json", **service.auth},
    )
    assert not_json.status_code == 422
    assert post(service, "/v1/score/batch", {"transactions": []}).status_code == 422
    too_many = post(service, "/v1/score/batch", {"transactions": [ORDINARY] * 51})
    assert too_many.status_code == 422 and "at most 50" in too_many.text
    huge = requests.post(
        f"{service.url}/v1/score",
        data=b"x" * 200_000,
        timeout=5,
        headers={"content-type": "application/json", **service.auth},
    )
    assert huge.status_code == 413


def test_token_check(secured: Service) -> None:
    assert post(secured, "/v1/score", RISKY, headers={}).status_code == 401
    assert post(secured, "/v1/score", RISKY, headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = post(secured, "/v1/score", RISKY, headers={"Authorization": f"Bearer {secured.token}"})
    assert ok.status_code == 200
    assert requests.get(f"{secured.url}/healthz", timeout=5).status_code == 200  # probes need no token


def test_health_readiness_metrics_and_openapi(service: Service) -> None:
    assert requests.get(f"{service.url}/healthz", timeout=5).json() == {"status": "alive"}
    assert requests.get(f"{service.url}/readyz", timeout=5).json()["status"] == "ready"
    post(service, "/v1/score/batch", {"transactions": [ORDINARY] * 3})
    metrics = requests.get(f"{service.url}/metrics", timeout=5).text
    assert 'scoring_requests_total{endpoint="/v1/score/batch",status="200"}' in metrics
    assert "scoring_batch_size_bucket" in metrics and "scoring_model_info{version=" in metrics
    paths = requests.get(f"{service.url}/openapi.json", timeout=5).json()["paths"]
    assert {"/v1/score", "/v1/score/batch", "/healthz", "/readyz"} <= set(paths)


def test_model_swap_under_load_fails_no_request(service: Service, tmp_path: Path) -> None:
    data = tmp_path / "train.csv"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fraudctl",
            "model",
            "synth",
            "--rows",
            "4000",
            "--seed",
            "5",
            "--out",
            str(data),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    trained = subprocess.run(
        [
            sys.executable,
            "-m",
            "fraudctl",
            "model",
            "train",
            str(data),
            "--label",
            "is_fraud",
            "--time",
            "timestamp",
            "--out-dir",
            str(tmp_path / "models"),
            "--no-promote",
            "--output",
            "json",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    new = json.loads(trained.stdout)
    assert set(new["metrics"]) >= {"auprc", "roc_auc", "precision_at_threshold", "recall_at_threshold"}
    assert new["split"].startswith("time-ordered") and new["data"]["rows"] == 4000
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()

    def load() -> None:
        session = requests.Session()
        session.headers.update(service.auth)
        while not stop.is_set():
            resp = session.post(f"{service.url}/v1/score/batch", json={"transactions": [RISKY, ORDINARY]}, timeout=10)
            statuses.append(resp.status_code)
            if resp.ok:
                versions.add(resp.json()["results"][0]["model_version"])

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        old = service.model_link.resolve()
        tmp_link = service.model_link.with_name("current.new")
        tmp_link.symlink_to(Path(new["artifact"]))
        tmp_link.replace(service.model_link)  # the atomic repoint a promotion does
        deadline = 30.0
        import time

        t0 = time.monotonic()
        while new["version"] not in versions and time.monotonic() - t0 < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        service.model_link.unlink()
        service.model_link.symlink_to(old)
    assert statuses and set(statuses) == {200}
    assert new["version"] in versions and len(versions) == 2


def test_schema_driven_fuzzing_finds_no_5xx(service: Service) -> None:
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{service.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "60",
            "--generation-deterministic",
            "--request-timeout",
            "10",
            "--header",
            f"Authorization: Bearer {service.token}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:]


def test_unknown_paths_add_no_metric_series(service: Service) -> None:
    """Requests are labelled by route template: 10,000 random paths (with and without the token,
    several methods) add at most the `unmatched` series of their statuses, and never a 5xx."""
    import re
    import uuid

    def series() -> set[str]:
        text = requests.get(f"{service.url}/metrics", timeout=5).text
        return set(re.findall(r"^scoring_requests_total\{[^}]*\}", text, re.MULTILINE))

    series()  # the scrape itself is a request: its series exists from here on
    before = series()
    statuses: set[int] = set()
    with requests.Session() as http:
        for n in range(10_000):
            method = ("GET", "POST", "PUT", "DELETE")[n % 4]
            headers = service.auth if n % 2 else {}
            resp = http.request(method, f"{service.url}/{uuid.uuid4().hex}/x", headers=headers, timeout=5)
            statuses.add(resp.status_code)
    assert statuses == {404}
    after = series()
    assert after - before <= {'scoring_requests_total{endpoint="unmatched",status="404"}'}
    assert not any("/x" in s for s in after)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_a_4xx_with_the_reason(service: Service, token: str) -> None:
    body = json.dumps(ORDINARY).replace('"amount": 25.0', f'"amount": {token}')
    assert token in body
    resp = requests.post(
        f"{service.url}/v1/score", data=body, headers={"Content-Type": "application/json", **service.auth}, timeout=10
    )
    assert 400 <= resp.status_code < 500, resp.text
    assert "amount" in resp.text or "finite" in resp.text.lower() or "json" in resp.text.lower()


def test_the_service_refuses_to_start_without_a_token() -> None:
    env = {k: v for k, v in __import__("os").environ.items() if k != "FRAUD_SCORING_TOKEN"}
    res = subprocess.run(
        [sys.executable, "-m", "udf_service", "--port", "1"], capture_output=True, text=True, env=env, timeout=60
    )
    assert res.returncode == 2 and "FRAUD_SCORING_TOKEN is not set" in res.stderr

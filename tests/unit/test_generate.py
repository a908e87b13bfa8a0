"""The traffic generator and the demo's scoring: pure logic, no service."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest

from fraudctl.config.project import load_project
from fraudctl.demo.outcome import SeenAlert, percentile, score
from fraudctl.generate.traffic import KINDS, RULE_KINDS, RuleParams, _km, generate
from fraudctl.paths import repo_root
from fraudctl.render.context import env_view, rule_views


@pytest.fixture(scope="module")
def params() -> RuleParams:
    project, problems = load_project(repo_root())
    assert not problems
    return RuleParams.from_rules(rule_views(project, env_view(project, "local")))


def test_params_come_from_the_environment(params: RuleParams) -> None:
    assert (params.burst_min_count, params.burst_window_s) == (5, 60.0)
    assert (params.high_value_threshold, params.new_device_min_amount) == (1000.0, 200.0)


def test_same_seed_same_traffic_and_different_seed_different(params: RuleParams) -> None:
    a = generate("r1", params, rate=30, duration_s=60, seed=3)
    b = generate("r1", params, rate=30, duration_s=60, seed=3)
    c = generate("r1", params, rate=30, duration_s=60, seed=4)
    assert [(p.offset_s, p.tx) for p in a.planned] == [(p.offset_s, p.tx) for p in b.planned]
    assert [p.tx for p in a.planned] != [p.tx for p in c.planned]


def test_every_kind_is_injected_with_its_trigger_in_the_traffic(params: RuleParams) -> None:
    t = generate("r2", params, rate=30, duration_s=60, seed=1, frauds_per_kind=3)
    assert sorted({i.kind for i in t.injections}) == sorted(KINDS)
    assert all(sum(1 for i in t.injections if i.kind == k) == 3 for k in KINDS)
    ids = [p.tx["transaction_id"] for p in t.planned]
    assert len(ids) == len(set(ids)), "transaction ids are unique"
    assert all(i.trigger_id in ids and i.trigger_id == i.transaction_ids[-1] for i in t.injections)
    assert set(t.blacklist) == {i.user_id for i in t.injections if i.kind == "blacklisted_account"}
    assert all(tx_id.startswith("r2-") for tx_id in ids)
    assert all(p.tx["user_id"].startswith("r2-") for p in t.planned)


def test_the_last_injected_story_is_followed_by_ordinary_traffic(params: RuleParams) -> None:
    t = generate("r3", params, rate=20, duration_s=60, seed=2, tail_s=15)
    injected = t.injected_ids
    last_injected = max(p.offset_s for p in t.planned if p.tx["transaction_id"] in injected)
    last_ordinary = max(p.offset_s for p in t.planned if p.tx["transaction_id"] not in injected)
    assert last_ordinary - last_injected >= 14  # one send interval of slack
    assert [p.offset_s for p in t.planned] == sorted(p.offset_s for p in t.planned)


def test_ordinary_customers_trip_no_rule(params: RuleParams) -> None:
    t = generate("r4", params, rate=80, duration_s=120, seed=5)
    injected_users = {i.user_id for i in t.injections}
    by_user: dict[str, list[tuple[float, dict[str, object]]]] = defaultdict(list)
    for p in t.planned:
        if p.tx["user_id"] not in injected_users:
            by_user[str(p.tx["user_id"])].append((p.offset_s, p.tx))
    assert len(by_user) >= 50
    for rows in by_user.values():
        times = [o for o, _ in rows]
        for i, start in enumerate(times):  # rapid_burst: fewer than min_count in any window
            assert sum(1 for x in times[i:] if x - start <= params.burst_window_s) < params.burst_min_count
        assert len({tx["location"] for _, tx in rows}) == 1  # location_mismatch
        assert len({tx["device_id"] for _, tx in rows}) == 1  # new_device beyond the first payment
        amounts = [float(str(tx["amount"])) for _, tx in rows]
        assert max(amounts) < params.new_device_min_amount  # a first payment is on a new device
        assert max(amounts) < params.high_value_threshold
        assert max(amounts) < params.high_value_multiple * min(amounts)


def test_injected_stories_meet_their_rule(params: RuleParams) -> None:
    t = generate("r5", params, rate=30, duration_s=60, seed=9)
    tx = {p.tx["transaction_id"]: (p.offset_s, p.tx) for p in t.planned}
    for inj in t.injections:
        story = [tx[i] for i in inj.transaction_ids]
        (t_first, first), (t_last, last) = story[0], story[-1]
        if inj.kind == "rapid_burst":
            assert len(story) == params.burst_min_count and t_last - t_first <= params.burst_window_s
        elif inj.kind == "location_mismatch":
            km = _km(first["lat"], first["lon"], last["lat"], last["lon"])
            assert last["location"] != first["location"] and t_last - t_first <= params.mismatch_window_s
            assert km / ((t_last - t_first) / 3600) > params.max_speed_kmh
        elif inj.kind == "high_value":
            assert last["amount"] > params.high_value_threshold
        elif inj.kind == "new_device":
            assert last["device_id"] != first["device_id"]
            assert params.new_device_min_amount <= last["amount"] < params.high_value_threshold
            assert last["amount"] < params.high_value_multiple * first["amount"]
        elif inj.kind == "model_only":
            assert last["channel"] == "atm" and last["amount"] < params.new_device_min_amount


def test_a_run_too_short_for_the_stories_is_refused_with_the_minimum(params: RuleParams) -> None:
    with pytest.raises(ValueError, match=r"a run of 30 s is too short .* use at least 47 s"):
        generate("r6", params, rate=10, duration_s=30, seed=1)


def test_labelled_rows_carry_timestamps_and_labels(params: RuleParams) -> None:
    t = generate("r7", params, rate=10, duration_s=60, seed=1)
    rows = t.labelled(datetime(2024, 11, 16, 14, 0, tzinfo=UTC))
    assert rows[0]["timestamp"].startswith("2024-11-16T14:00:")
    assert sum(r["is_fraud"] for r in rows) == len(t.injections)
    assert {r["fraud_kind"] for r in rows if r["is_fraud"]} == set(KINDS)


def test_score_counts_caught_missed_false_and_latency(params: RuleParams) -> None:
    t = generate("r8", params, rate=10, duration_s=60, seed=1, frauds_per_kind=1)
    by_kind = {i.kind: i for i in t.injections}
    sent = {p.tx["transaction_id"]: 100.0 for p in t.planned}
    clean = next(p.tx for p in t.planned if p.tx["transaction_id"] not in t.injected_ids)

    def alert(rule: str, tx_id: str, at: float) -> SeenAlert:
        return SeenAlert(f"{rule}:{tx_id}", rule, "u", tx_id, 0.5, at)

    alerts = [
        alert("rapid_burst", by_kind["rapid_burst"].trigger_id, 101.0),
        alert("rapid_burst", by_kind["rapid_burst"].trigger_id, 109.0),  # re-delivered: counted once
        alert("high_value", by_kind["new_device"].trigger_id, 102.0),  # wrong rule for that case
        alert("high_value", by_kind["high_value"].trigger_id, 103.0),
        alert("new_device", clean["transaction_id"], 104.0),  # false alert
    ]
    s = score(t, alerts, sent)
    assert s["alerts"] == 4
    assert s["caught"] == {k: int(k in ("rapid_burst", "high_value")) for k in sorted(KINDS)}
    assert s["missed"]["new_device"] == [by_kind["new_device"].trigger_id]
    assert s["rule_based_injected"] == len(RULE_KINDS) and s["rule_based_caught"] == 2
    assert s["false_alerts"] == 1 and s["false_alert_ids"] == [f"new_device:{clean['transaction_id']}"]
    # The first delivery of an alert is the one timed.
    assert s["latency_ms"] == {"p50": 2000, "p99": 4000, "count": 4}


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 99) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)


def test_every_generated_transaction_fits_the_record_contract(params: RuleParams) -> None:
    """The generator writes what the contract (fraudctl.contract.Transaction) accepts, clean
    traffic and every injected story alike; the model-only stories use the contract's risky
    merchant categories."""
    from fraudctl.contract import RISKY_CATEGORIES, Transaction

    t = generate("r9", params, rate=30, duration_s=60, seed=5, frauds_per_kind=2)
    for planned in t.planned:
        # The sender stamps the event time as it sends; everything else is the generator's.
        Transaction.model_validate({**planned.tx, "timestamp": "2026-12-01T12:00:00Z"})
    stories = {i.trigger_id for i in t.injections if i.kind == "model_only"}
    categories = {p.tx.get("merchant_category") for p in t.planned if p.tx["transaction_id"] in stories}
    assert categories and categories <= RISKY_CATEGORIES

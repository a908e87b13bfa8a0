"""The trainer's held-out part is the latest 20% in time, whatever the time column holds: numbers
sort as numbers (ULB's `Time`, seconds), RFC 3339 text chronologically; and the defaults do not
fall into scikit-learn's early-stopping trap on rare positives."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from fraudctl.model.dataset import DatasetError, load
from fraudctl.model.train import GBM_PARAMS, metrics, split


def _write(path: Path, times: list[str], labels: list[int]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Time", "V1", "Class"])
        for n, (t, y) in enumerate(zip(times, labels, strict=True)):
            w.writerow([t, n % 7, y])
    return path


def test_numeric_times_sort_as_numbers(tmp_path: Path) -> None:
    # 0..99 written in an order where text order and numeric order disagree ("10" < "9" as text).
    times = [str(t) for t in [*range(50, 100), *range(0, 50)]]
    data = load(_write(tmp_path / "d.csv", times, [1 if int(t) % 10 == 0 else 0 for t in times]), "Class", "Time")
    parts = split(data, seed=1)
    held_out = sorted(int(times[i]) for i in parts.test)
    assert held_out == list(range(80, 100))  # the numerically latest 20%, not "80".."99" plus "9"
    assert sorted(int(times[i]) for i in parts.train) == list(range(0, 80))
    assert parts.kind.startswith("time-ordered")


def test_rfc3339_times_sort_chronologically_with_offsets(tmp_path: Path) -> None:
    times = ["2024-01-01T10:00:00+02:00", "2024-01-01T09:30:00Z", "2024-01-01T07:00:00Z", "2024-01-01T08:59:00Z",
             "2024-01-01T09:00:00Z"]  # fmt: skip
    data = load(_write(tmp_path / "d.csv", times, [0, 1, 0, 0, 1]), "Class", "Time")
    # 10:00+02:00 is 08:00Z: as text it would sort last, in time it is second.
    assert np.argsort(data.times).tolist() == [2, 0, 3, 4, 1]
    assert split(data, seed=1).test.tolist() == [1]


def test_a_bad_time_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"d.csv:3: --time column 'Time': 'yesterday'"):
        load(_write(tmp_path / "d.csv", ["2024-01-01T00:00:00Z", "yesterday"], [0, 1]), "Class", "Time")


def test_defaults_never_stop_early_and_the_report_has_the_base_rate() -> None:
    assert GBM_PARAMS["early_stopping"] is False and GBM_PARAMS["max_iter"] >= 400
    report = metrics(np.array([0, 0, 0, 1]), np.array([0.1, 0.2, 0.9, 0.8]), 0.5)
    assert report["base_rate"] == 0.25
    assert report["precision_at_threshold"] == 0.5 and report["recall_at_threshold"] == 1.0

"""The demo's live alert table (shown only on a terminal, so the stack tests and CI never see it):
rendered on a recording terminal console, newest alert first, at most SHOWN rows, with the status."""

from __future__ import annotations

import pytest
from rich.console import Console

from fraudctl.cli import demo
from fraudctl.demo.outcome import SeenAlert
from fraudctl.generate.send import SendStats


def _alert(i: int) -> SeenAlert:
    return SeenAlert(f"rapid_burst:t{i}", "rapid_burst", f"U{i}", f"t{i}", 0.25 + i / 100, 0.0)


def test_the_live_table_shows_the_latest_alerts_first(monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(record=True, force_terminal=True, width=140)
    monkeypatch.setattr(demo, "out_console", console)
    display = demo._Display(live_table=True)
    observer = display.observer()
    with display:
        for i in range(demo.SHOWN + 3):
            observer.on_alert(_alert(i), 5_600.0)
        observer.on_tick(SendStats(planned=100, sent=40), demo.SHOWN + 3)
    text = console.export_text()
    final = text[text.rindex("Latest alerts") :]  # the last frame the live display drew
    assert "sent 40/100 transactions, 15 alert(s)" in final
    newest, oldest_kept = demo.SHOWN + 2, 3
    assert final.index(f"t{newest} ") < final.index(f"t{oldest_kept} ")
    assert "t2 " not in final and "U2 " not in final  # pushed out: only SHOWN rows are kept
    assert "0.39" in final and "5.6 s" in final  # risk score of t14, latency

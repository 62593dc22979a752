"""The watchlist scan: each row says what the symbol's own answers say; a bad symbol is a row, not a failure.

Models are real (trained once per session on SPX, shared read-only through a `models` symlink). The
symbols scanned end on SPX's last bar (2018-12-31), so the promoted models serve them and no
point-in-time refit is fitted: GOOGX is GOOG's bars re-stamped onto SPX's last trading days (a second,
different series), TINY is too short to answer.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from paiid.data import load_bars
from paiid.data.importer import import_bars
from paiid.engine import answers, executor
from paiid.engine.scan import FRESH_BARS, scan, sort_rows
from paiid.errors import BadInput, UnknownSymbol

pytestmark = pytest.mark.slow

REGIMES = {"trending_bullish", "trending_bearish", "ranging", "high_volatility"}


@pytest.fixture
def home(served_home: Path) -> Path:
    """The shared models, plus GOOGX (GOOG's bars on SPX's last dates: served by the promoted models) and a
    too-short TINY."""
    h = served_home
    spx = load_bars("SPX")
    goog = load_bars("GOOG")
    googx = goog.copy()
    googx.index = spx.index[-len(goog):]
    import_bars(googx.reset_index(), "GOOGX", source="test")
    import_bars(spx.iloc[-120:].reset_index(), "TINY", source="test")
    return h


def _logged(home: Path) -> int:
    if not (home / "paiid.db").exists():
        return 0
    with sqlite3.connect(home / "paiid.db") as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'predictions'").fetchall():
            return 0
        return db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]


def test_each_row_equals_the_symbols_own_answers(home: Path) -> None:
    out = scan(["spx", "GOOGX"], workers=1)
    assert _logged(home) == 0  # a scan is a screen: nothing goes to the prediction log
    assert [r["symbol"] for r in out["rows"]] == ["SPX", "GOOGX"]
    assert out["as_of"] == "2018-12-31T00:00:00" and out["errors"] == 0
    for row in out["rows"]:
        sym = row["symbol"]
        assert row["error"] is None and row["as_of"] == "2018-12-31T00:00:00"

        reg = answers.regime(sym)
        assert row["regime"] == reg["current_regime"] and row["regime"] in REGIMES
        assert row["confidence"] == pytest.approx(reg["confidence"], abs=1e-9)
        assert row["regime_detail"] == reg["detail"]

        rec = answers.recommendation(sym)
        top = rec["recommendations"][0]
        mine = row["recommendation"]
        assert mine["strategy_id"] == top["strategy_id"]
        assert mine["probability"] == pytest.approx(top["probability"], abs=1e-9)
        assert mine["expected_return"] == pytest.approx(top["expected_return"], abs=1e-9)
        assert row["stand_aside"] is bool(rec.get("stand_aside"))
        assert row["stand_aside_reason"] == rec.get("stand_aside_reason")

        trade = answers.trade(sym, mine["strategy_id"], mine["side"])
        assert row["win_probability"] == pytest.approx(trade["win_probability"], abs=1e-9)
        assert row["informative"] is trade["informative"]
        assert row["trade"]["horizon_bars"] == trade["horizon_bars"]
        if mine["current_position"] != 0:  # the side is the one the template's rule holds now
            assert answers.trade(sym, mine["strategy_id"])["side"] == mine["side"]

        pats = answers.patterns(sym)
        fresh = [(p["type"], p["signal"], pytest.approx(p["confidence"], abs=1e-9))
                 for p in pats["patterns"] if p["bars_since_confirmation"] < FRESH_BARS]
        assert [(p["type"], p["signal"], p["confidence"]) for p in row["patterns"]] == fresh
        assert row["recent_patterns"] == len(pats["patterns"])

        served_by = {"regime": reg, "selector": rec, "tradeprob": trade, "pattern_scorer": pats}
        for name, served in served_by.items():
            assert row["models"][name]["version"] == served["model"]["version"]
            assert row["models"][name]["refit_date"] == served["model"]["refit_date"]
    assert _logged(home) > 0  # the per-symbol answers are logged (the check above can see rows)


def test_a_symbol_that_cannot_be_answered_is_an_error_row(home: Path) -> None:
    out = scan("TINY,SPX", workers=1)
    tiny, spx = out["rows"]
    assert tiny["symbol"] == "TINY" and "needs at least" in tiny["error"] and tiny["status_code"] == 422
    assert tiny["regime"] is None and tiny["patterns"] == []
    assert spx["error"] is None and spx["regime"] in REGIMES
    assert out["answered"] == 1 and out["errors"] == 1
    ranked = sort_rows(out["rows"], "win_probability")
    assert [r["symbol"] for r in ranked] == ["SPX", "TINY"]  # rows without a value go last
    assert [r["symbol"] for r in sort_rows(out["rows"], "symbol")] == ["SPX", "TINY"]
    with pytest.raises(BadInput, match="valid columns"):
        sort_rows(out["rows"], "colour")


def test_local_processes_give_the_same_rows_as_this_process(home: Path) -> None:
    serial = scan(["SPX", "GOOGX", "TINY"], workers=1)
    try:
        fanned = scan(["SPX", "GOOGX", "TINY"], workers=2)
    finally:
        executor.shutdown()
    assert fanned["executor"] == {"backend": "processes", "workers": 2}
    assert fanned["rows"] == serial["rows"]


def test_a_date_after_the_last_bar_scans_each_symbols_last_bar(home: Path) -> None:
    out = scan(["SPX"], "2019-03-01", workers=1)
    assert out["as_of"] == "2019-03-01T00:00:00"
    assert out["rows"][0]["as_of"] == "2018-12-31T00:00:00"


def test_bad_input_fails_before_any_model_is_loaded(paiid_home: Path) -> None:
    with pytest.raises(UnknownSymbol) as err:
        scan(["SPX", "NOPE1", "nope2"])
    assert "'NOPE1', 'NOPE2'" in err.value.message and err.value.status_code == 404
    with pytest.raises(BadInput, match="invalid date"):
        scan(["SPX"], "not-a-date")
    with pytest.raises(BadInput, match="at most 2 symbols"):
        scan(["SPX", "GOOG", "EURUSD"], limit=2)
    assert not (paiid_home / "models").exists() or not any((paiid_home / "models").iterdir())

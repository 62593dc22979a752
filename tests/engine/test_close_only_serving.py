"""Close-only symbols are served by the panel models (issue 15): regime, recommend, predict-trade and the
scan row of AAPL, point in time, and a short close-only import that does not break `train`.

The panel models are the real ones (`paiid.ml.panel.serve`), trained on a two-symbol universe (AAPL and
the SP500 index, both bundled close-only series) so that the file stays fast: the property under test is
which models answer and which bars they read, not how good a 23-symbol fit is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from paiid.bench.api import linked_home
from paiid.data import as_of, load_bars
from paiid.data.importer import import_file
from paiid.engine import answers, orchestrator, scan, service, training, vintages
from paiid.engine.catalog import FAMILY_NAMES, MODELS
from paiid.engine.schedule import cap, refit_for
from paiid.ml.panel import serve

PANEL = ["panel_regime", "panel_selector", "panel_trade"]
UNIVERSE = ["AAPL", "SP500"]
#: A past date: its refit date (2012-03-31 by quarter) is long before the promoted models' (2022-09-30).
PAST = "2012-05-15"
_WHERE = {"version", "vintage", "prediction_id", "cached"}


def _strip(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in _WHERE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _fresh() -> None:
    service.clear_cache()
    vintages.clear_cache()
    orchestrator.cache().clear()


def small_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Few trees in the panel forests (the property is about which bars are read, not about skill)."""
    monkeypatch.setattr(serve, "SELECTOR_TREES", 10)
    monkeypatch.setattr(serve, "TRADE_TREES", 10)


@pytest.fixture(scope="module")
def trained_panel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the panel models trained once for this file on the two-symbol universe."""
    home = tmp_path_factory.mktemp("panel-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAIID_HOME", str(home))
        mp.setenv("PAIID_QUIET", "1")
        small_panel(mp)
        _fresh()
        result = training.train_all(UNIVERSE, only=PANEL)
    assert [i.name for i in result] == PANEL
    assert result.groups["close_only"]["symbols"] == UNIVERSE
    return home


@pytest.fixture
def panel_home(trained_panel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home serving the file's panel models (its own database and prediction log)."""
    small_panel(monkeypatch)  # vintages trained by a test use the same recipe
    home = linked_home(trained_panel, tmp_path / "home")
    monkeypatch.setenv("PAIID_HOME", str(home))
    _fresh()
    return home


def test_catalog_has_the_close_only_kinds() -> None:
    assert [n for n, k in MODELS.items() if k.close_only] == PANEL
    assert not any(MODELS[n].close_only for n in ("regime", "selector", "tradeprob", "pattern_scorer"))


def test_answers_of_a_close_only_symbol_come_from_the_panel_models(panel_home: Path) -> None:
    family = FAMILY_NAMES["close_only"]
    reg = answers.regime("AAPL")
    assert reg["model_family"] == family == "panel (close-only features)"
    assert reg["model"]["name"] == "panel_regime" and reg["model"]["refit_date"] == "2022-09-30"
    assert reg["features"]["trend_strength"] is None and "absent" in reg["notes"]["trend_strength"]
    assert "typicality" in reg and reg["current_regime"]

    reco = answers.recommendation("AAPL")
    assert reco["model_family"] == family and reco["model"]["name"] == "panel_selector"
    assert set(reco["models"]) == {"panel_selector", "panel_regime"}
    assert {"stand_aside", "stand_aside_reason", "typicality"} <= set(reco)
    probs = [r["probability"] for r in reco["recommendations"]]
    assert abs(sum(probs) - 1) < 1e-9 and probs == sorted(probs, reverse=True)

    trade = answers.trade("AAPL", "trend-following-ma-cross", "long")
    assert trade["model_family"] == family and trade["model"]["name"] == "panel_trade"
    assert 0 < trade["win_probability"] < 1 and "typicality" in trade
    assert trade["barriers"]["stop_loss"] < trade["barriers"]["reference_price"]


def test_scan_row_of_aapl_equals_its_own_answers(panel_home: Path) -> None:
    out = scan.scan(["AAPL"], PAST, workers=1)
    (row,) = out["rows"]
    assert row["error"] is None and row["model_family"] == FAMILY_NAMES["close_only"]
    reg = answers.regime("AAPL", PAST)
    reco = answers.recommendation("AAPL", PAST)
    assert row["regime"] == reg["current_regime"] and row["confidence"] == pytest.approx(reg["confidence"])
    top = reco["recommendations"][0]
    assert row["recommendation"]["strategy_id"] == top["strategy_id"]
    assert row["recommendation"]["probability"] == pytest.approx(top["probability"])
    assert row["stand_aside"] == reco["stand_aside"]
    trade = answers.trade("AAPL", top["strategy_id"], row["trade"]["side"], PAST)
    assert row["win_probability"] == pytest.approx(trade["win_probability"])
    assert {m["name"] for m in row["models"].values()} == set(PANEL)
    assert all(m["refit_date"] == "2012-03-31" for m in row["models"].values())


def test_answer_as_of_d_equals_the_answer_of_a_store_cut_at_d(panel_home: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    full = {"regime": answers.regime("AAPL", PAST), "recommendation": answers.recommendation("AAPL", PAST),
            "trade": answers.trade("AAPL", "mean-reversion-bb-rsi", "long", PAST)}
    assert full["regime"]["model"]["vintage"] and full["regime"]["model"]["refit_date"] == "2012-03-31"
    cut_home = tmp_path / "cut"
    cut_home.mkdir()
    monkeypatch.setenv("PAIID_HOME", str(cut_home))
    _fresh()
    with as_of(cap(pd.Timestamp(PAST))):  # nothing after D exists in this world, models included
        assert refit_for(load_bars("AAPL")) == pd.Timestamp("2012-03-31")
        training.train_all(UNIVERSE, only=PANEL)
        cut = {"regime": answers.regime("AAPL"), "recommendation": answers.recommendation("AAPL"),
               "trade": answers.trade("AAPL", "mean-reversion-bb-rsi", "long")}
    assert not cut["regime"]["model"]["vintage"]
    assert _strip(cut) == _strip(full)


def test_a_short_close_only_import_does_not_break_train(paiid_home: Path, tmp_path: Path) -> None:
    closes = load_bars("AAPL").iloc[-120:]["close"]
    csv = tmp_path / "short.csv"
    frame = pd.DataFrame({"date": closes.index.strftime("%Y-%m-%d"), "close": closes.to_numpy()})
    frame.to_csv(csv, index=False)
    import_file(csv, symbol="SHORTC")
    groups = training.select_groups(None, PANEL)
    usable, skipped = groups[True]
    assert "SHORTC" not in usable and {"AAPL", "SP500", "SPX"} <= set(usable)
    (why,) = [s["reason"] for s in skipped if s["symbol"] == "SHORTC"]
    assert "120" in why
    with pytest.raises(Exception, match="SHORTC"):  # asked for explicitly: refused up front, naming it
        training.select_groups(["SHORTC"], PANEL)

"""`paiid regime / recommend / predict-trade AAPL` answer from the panel models (issue 15), exit 0.

AAPL is a bundled close-only series. The panel models are trained once for this file, in-process and
with few trees, on a two-symbol universe (AAPL and the SP500 index); the commands run as real
subprocesses of the installed `paiid` against that home.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from paiid.bench.api import child_env, linked_home, paiid_command
from paiid.engine import orchestrator, service, training, vintages
from paiid.ml.panel import serve

PANEL = ["panel_regime", "panel_selector", "panel_trade"]
FAMILY = "panel (close-only features)"


@pytest.fixture(scope="module")
def panel_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("panel-cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAIID_HOME", str(home))
        mp.setenv("PAIID_QUIET", "1")
        mp.setattr(serve, "SELECTOR_TREES", 10)
        mp.setattr(serve, "TRADE_TREES", 10)
        service.clear_cache()
        vintages.clear_cache()
        orchestrator.cache().clear()
        training.train_all(["AAPL", "SP500"], only=PANEL)
    return home


def _run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(paiid_command(*args), env=child_env(home), capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def _json(home: Path, *args: str) -> dict:
    out = _run(home, *args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_regime_recommend_and_predict_trade_on_a_close_only_symbol(panel_models: Path,
                                                                   tmp_path: Path) -> None:
    home = linked_home(panel_models, tmp_path / "home")
    reg = _json(home, "regime", "AAPL")
    assert reg["model_family"] == FAMILY and reg["model"]["name"] == "panel_regime"
    assert {"current_regime", "confidence", "typicality", "features", "prediction_id"} <= set(reg)
    assert reg["features"]["trend_strength"] is None

    reco = _json(home, "recommend", "AAPL")
    assert reco["model_family"] == FAMILY and reco["model"]["name"] == "panel_selector"
    assert {"recommendations", "stand_aside", "stand_aside_reason", "typicality", "models"} <= set(reco)
    assert len(reco["recommendations"]) == 4

    trade = _json(home, "predict-trade", "AAPL", "-s", "momentum-macd", "--side", "short")
    assert trade["model_family"] == FAMILY and trade["model"]["name"] == "panel_trade"
    assert trade["side"] == "short" and 0 < trade["win_probability"] < 1
    assert trade["barriers"]["stop_loss"] > trade["barriers"]["reference_price"]


def test_the_rendered_answer_names_the_family_and_the_missing_adx(panel_models: Path, tmp_path: Path) -> None:
    home = linked_home(panel_models, tmp_path / "home")
    out = _run(home, "regime", "AAPL")
    assert out.returncode == 0, out.stderr
    assert FAMILY in out.stdout and "n/a (close-only series)" in out.stdout

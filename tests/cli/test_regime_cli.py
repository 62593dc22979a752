"""`paiid regime SYM [--date D] [--json]` through the real installed command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from paiid.bench.api import linked_home

PAIID = str(Path(sys.executable).with_name("paiid"))


def paiid(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1"}
    env.pop("PAIID_DATABASE_URL", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.parametrize(("args", "needle"), [
    (("regime", "NOPE", "--json"), "unknown symbol"),
    (("regime", "SPX", "--date", "1999-06-01", "--json"), "needs at least"),
    (("regime", "SPX", "--date", "someday", "--json"), "date"),
])
def test_bad_input_exits_2_before_any_model_is_trained(
        paiid_home: Path, args: tuple[str, ...], needle: str) -> None:
    out = paiid(paiid_home, *args)
    assert out.returncode == 2, out.stderr
    assert out.stdout == ""
    assert out.stderr.startswith("error: ") and needle in out.stderr and out.stderr.count("\n") == 1
    assert not (paiid_home / "models" / "regime").exists()  # nothing was trained for a bad request


@pytest.fixture(scope="module")
def home(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return linked_home(trained, tmp_path_factory.mktemp("regime-cli"))


@pytest.mark.slow
def test_as_of_date_answer_equals_the_answer_on_data_cut_at_that_date(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    date = "2008-10-10"
    out = paiid(home, "regime", "spx", "--date", date, "--json")
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["symbol"] == "SPX" and body["as_of"].startswith(date)
    assert {"current_regime", "confidence", "features", "recommended_strategies"} <= set(body)

    monkeypatch.setenv("PAIID_HOME", str(home))
    from paiid.data import load_bars
    from paiid.engine import vintages
    from paiid.ml.regime import regime_answer

    full = load_bars("SPX")
    n = len(full.loc[:date])
    model, info = vintages.serving("regime", full.iloc[:n])  # fitted on data up to 2008-09-30 only
    assert body["model"] == vintages.describe(info) and info.metadata["refit_date"] == "2008-09-30"
    del body["model"]
    assert body["current_regime"] == model.history(full)["regime"][n - 1]  # full history, read at D
    assert isinstance(body.pop("prediction_id"), int)  # the CLI's answer is logged; the library call is not
    assert body.pop("model_family").startswith("ohlcv")  # SPX has OHLCV bars: the OHLCV models answer
    assert body == json.loads(json.dumps(regime_answer(model, full.iloc[:n], "SPX")))


@pytest.mark.slow
def test_human_output(home: Path) -> None:
    out = paiid(home, "regime", "SPX")
    assert out.returncode == 0, out.stderr
    assert "SPX" in out.stdout and "confidence" in out.stdout


@pytest.mark.slow
def test_flat_history_is_refused_naming_the_undefined_features(trained: Path, tmp_path: Path) -> None:
    """400 bars of a price that never moves: enough history, but the volatility-scaled inputs have no
    value. The error says so (it used to say "needs at least 201 bars ..., but only 400 are available")."""
    home = linked_home(trained, tmp_path / "home")
    dates = pd.bdate_range("2020-01-01", periods=400, name="date")
    pd.DataFrame({"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1000},
                 index=dates).to_csv(tmp_path / "flat.csv")
    assert paiid(home, "data", "import", str(tmp_path / "flat.csv"), "--symbol", "FLAT").returncode == 0
    out = paiid(home, "regime", "FLAT", "--json")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: regime detection for FLAT: FLAT has 400 bars, but features ")
    assert f"undefined at the last bar ({dates[-1].date()})" in out.stderr and "ret_20_snr" in out.stderr
    assert "needs at least" not in out.stderr and out.stderr.count("\n") == 1

"""`paiid train`, `paiid models list|promote|rollback`, `paiid track`, `paiid evaluate`.

Training runs the real orchestration and registry with the tiny logistic-regression trainers from
`tests/engine/tiny_trainers.py` (so these tests do not depend on the ML areas' models); the CLI is the
real Typer app, in-process for speed, plus the installed `paiid` command in a subprocess for the
exit-code and one-JSON-document contract.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
import tiny_trainers  # noqa: E402

from paiid.cli.main import app  # noqa: E402
from paiid.engine import registry, service, tracking  # noqa: E402

PAIID = str(Path(sys.executable).with_name("paiid"))


@pytest.fixture(autouse=True)
def tiny(monkeypatch):
    tiny_trainers.use(monkeypatch)
    service.clear_cache()
    return tiny_trainers


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_train_registers_and_prints_versions_and_scores():
    code, out, err = run("train", "--symbols", "SPX,GOOG", "--seed", "2", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["symbols"] == ["SPX", "GOOG"] and doc["seed"] == 2
    expected = [("regime", 1), ("pattern_scorer", 1), ("selector", 1), ("tradeprob", 1)]
    assert [(m["name"], m["version"]) for m in doc["models"]] == expected
    assert doc["models"][0]["scores"] == {"accuracy": 0.55, "baseline_accuracy": 0.5}
    assert doc["skipped"] == []
    code, out, _ = run("train", "--symbols", "SPX", "GOOG", "--only", "regime", "--json")
    doc = json.loads(out)
    assert [(m["name"], m["version"]) for m in doc["models"]] == [("regime", 2)]
    assert doc["symbols"] == ["SPX", "GOOG"]
    code, out, _ = run("train", "--symbols", "SPX")
    assert code == 0 and "regime v3" in out and "accuracy" in out


def test_train_bad_input_exit_codes(tmp_path):
    code, out, err = run("train", "--symbols", "NOSUCH", "--json")
    assert code == 2 and out == "" and err.startswith("error: unknown symbol 'NOSUCH'")
    from paiid.data import load_bars

    path = tmp_path / "short.csv"
    load_bars("SPX").iloc[-28:].rename_axis("date").reset_index().to_csv(path, index=False)
    assert run("data", "import", str(path), "--symbol", "SHORT")[0] == 0
    code, out, err = run("train", "--symbols", "SHORT", "--json")
    assert code == 2 and out == "" and "SHORT" in err and "only 28" in err
    code, out, err = run("train", "--json")  # the default set skips it and says why
    assert code == 0, err
    doc = json.loads(out)
    assert doc["symbols"] == ["SPX", "GOOG"] and [s["symbol"] for s in _short_ones(doc)] == ["SHORT"]
    code, out, _ = run("train")
    assert code == 0 and "not trained on SHORT" in out
    code, _, err = run("train", "--only", "bogus")
    assert code == 2 and "unknown model" in err


def test_models_list_promote_rollback():
    code, out, _ = run("models", "list", "--json")
    assert code == 0 and json.loads(out) == {"models": []}
    for seed in range(3):
        run("train", "--symbols", "SPX", "--only", "regime", "--seed", str(seed))
    code, out, _ = run("models", "list", "--json")
    (regime,) = json.loads(out)["models"]
    assert regime["name"] == "regime" and regime["promoted"] == 3
    assert [v["status"] for v in regime["versions"]] == ["ok"] * 3
    code, out, _ = run("models", "rollback", "regime", "--json")
    assert code == 0 and json.loads(out) == {"name": "regime", "promoted": 2, "previous": 3}
    assert service.get_served("regime")[1].version == 2
    code, out, _ = run("models", "promote", "regime", "3", "--json")
    assert code == 0 and json.loads(out)["promoted"] == 3
    code, _, err = run("models", "promote", "regime", "9")
    assert code == 2 and "no version 9" in err
    # a tampered file: promote refuses it (exit 1, model error), list shows it corrupt
    path = registry.model_dir("regime") / "v1.skops"
    path.write_bytes(path.read_bytes()[:-20])
    code, _, err = run("models", "promote", "regime", "1")
    assert code == 1 and "tampered" in err
    code, out, _ = run("models", "list")
    assert code == 0 and "corrupt" in out


def test_track_resolves_and_reports():
    tracking.log_prediction("regime", "SPX", {"as_of": "2018-03-01", "current_regime": "trending_bullish",
                                              "confidence": 0.8}, user_id="bob", horizon_bars=5)
    code, out, err = run("track", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["resolution"] == {"resolved": 1, "pending": 0}
    assert doc["predictions"]["resolved"] == 1 and doc["accuracy"]["overall"]["n"] == 1
    code, out, _ = run("track")
    assert code == 0 and "1 logged" in out


def test_evaluate_trains_missing_models_then_reports(monkeypatch):
    from paiid.engine import evaluate

    # a cheap stand-in part: what is checked is that the command trains the defaults first
    monkeypatch.setattr(evaluate, "PARTS", {"regime": lambda seed: {"seed": seed}})
    code, out, err = run("evaluate", "--json", "--seed", "1")
    assert code == 0, err
    assert json.loads(out) == {"regime": {"seed": 1}}
    assert registry.has_model("regime") and registry.has_model("selector")


def test_installed_command_contract(paiid_home):
    env = {**os.environ, "PAIID_HOME": str(paiid_home), "PAIID_QUIET": "1"}
    out = subprocess.run([PAIID, "models", "list", "--json"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"models": []}
    out = subprocess.run([PAIID, "models", "rollback", "regime"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("error: no model 'regime'") and out.stdout == ""


def test_evaluate_skips_an_unsuitable_import_and_reports_it(monkeypatch, tmp_path):
    """A 28-bar import once made `paiid evaluate` fail for every part; now the symbol-based parts are
    scored on the usable symbols and the report names the one left out and why."""
    from paiid.data import load_bars
    from paiid.engine import evaluate

    path = tmp_path / "short.csv"
    load_bars("SPX").iloc[-28:].reset_index().to_csv(path, index=False)
    code, _, err = run("data", "import", str(path), "--symbol", "SHORT")
    assert code == 0, err
    seen: dict[str, list[str]] = {}

    def selector_part(seed: int, symbols: list[str]) -> dict:
        seen["selector"] = symbols
        return {"n": len(symbols)}

    monkeypatch.setattr(evaluate, "PARTS", {"selector": selector_part, "regime": lambda seed: {"seed": seed}})
    code, out, err = run("evaluate", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert sorted(seen["selector"]) == ["GOOG", "SPX"]
    assert [s["symbol"] for s in _short_ones(doc)] == ["SHORT"]
    assert "28" in _short_ones(doc)[0]["reason"]
    assert doc["regime"] == {"seed": 0}


def _short_ones(doc: dict) -> list[dict]:
    """Skipped symbols other than the bundled close-only series (skipped as "close-only: needs ...")."""
    return [s for s in doc["skipped_symbols"] if not s["reason"].startswith("close-only")]

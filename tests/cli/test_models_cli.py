"""`paiid train`, `paiid models list|promote|rollback`, `paiid track`, `paiid evaluate`.

Training runs the real orchestration and registry with the tiny LogisticRegression trainers from
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
from paiid.engine import registry, service, tracking, training  # noqa: E402

PAIID = str(Path(sys.executable).with_name("paiid"))


@pytest.fixture(autouse=True)
def tiny(monkeypatch):
    monkeypatch.setattr(training, "TRAINERS", dict(tiny_trainers.TINY))
    monkeypatch.setattr(training, "_failed", set())
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
    expected = [("regime", 1), ("selector", 1), ("tradeprob", 1)]
    assert [(m["name"], m["version"]) for m in doc["models"]] == expected
    assert doc["models"][0]["scores"] == {"accuracy": 0.55, "baseline_accuracy": 0.5}
    assert [s["name"] for s in doc["skipped"]] == ["pattern_scorer"]
    code, out, _ = run("train", "--symbols", "SPX", "GOOG", "--only", "regime", "--json")
    doc = json.loads(out)
    assert [(m["name"], m["version"]) for m in doc["models"]] == [("regime", 2)]
    assert doc["symbols"] == ["SPX", "GOOG"]
    code, out, _ = run("train", "--symbols", "SPX")
    assert code == 0 and "regime v3" in out and "accuracy" in out


def test_train_bad_input_exit_codes():
    code, out, err = run("train", "--symbols", "NOSUCH", "--json")
    assert code == 2 and out == "" and err.startswith("error: unknown symbol 'NOSUCH'")
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

    monkeypatch.setattr(evaluate, "PARTS", {"regime": "paiid.ml.not_written_yet:evaluate"})
    code, out, err = run("evaluate", "--json", "--seed", "1")
    assert code == 0, err
    assert json.loads(out) == {"regime": {"status": "not implemented yet"}}
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

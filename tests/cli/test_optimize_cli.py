"""`paiid optimize` through the real installed command: one JSON document, stored, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paiid.cli.main import app

PAIID = str(Path(sys.executable).with_name("paiid"))


def paiid(home: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAIID_HOME": str(home), "PAIID_QUIET": "1", **env_extra}
    env.pop("PAIID_DATABASE_URL", None)
    env.pop("PAIID_DASK_SCHEDULER", None)
    return subprocess.run([PAIID, *args], capture_output=True, text=True, env=env, timeout=300)


def test_optimize_json_report_is_stored_and_listed(paiid_home: Path) -> None:
    out = paiid(paiid_home, "optimize", "GOOG", "--strategy", "momentum-macd", "--trials", "6",
                "--splits", "2", "--search", "fast", "--search", "slow", "--param", "roc_min=0",
                "--workers", "2", "--json")
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)  # exactly one JSON document
    assert rep["symbol"] == "GOOG" and rep["strategy_id"] == "momentum-macd"
    assert set(rep["settings"]["searched"]) == {"fast", "slow"}
    assert rep["best_params"]["roc_min"] == 0 and rep["best_params"]["fast"] < rep["best_params"]["slow"]
    wf = rep["walk_forward"]
    assert len(wf["windows"]) == 2
    assert set(wf["oos_sharpe"]) == {"optimized", "default", "buy_and_hold"}
    assert 0 <= rep["deflated_sharpe"]["dsr"] <= 1 and rep["deflated_sharpe"]["n_trials"] >= 2
    assert rep["pbo"] is None or 0 <= rep["pbo"]["pbo"] <= 1
    d = rep["deflated_sharpe"]
    assert 0 <= d["dsr_normal"] <= 1 and d["judgement"] in ("significant", "not significant",
                                                             "too few trades to judge")
    assert d["n_trades"] >= 0 and 0 <= d["active_bars"] <= rep["data"]["bars"]
    tc = rep["trials_counted"]
    assert tc["total"] == d["n_trials"] == sum(tc["this_run"].values())  # a fresh home: nothing earlier
    if rep["pbo"] is not None:
        lo, hi = rep["pbo"]["pbo_range"]
        assert lo <= rep["pbo"]["pbo"] <= hi and len(rep["pbo"]["pbo_runs"]) >= 3
    diff = wf["optimized_minus_default"]
    assert diff["estimate"] == pytest.approx(wf["oos_sharpe"]["optimized"] - wf["oos_sharpe"]["default"])
    assert isinstance(rep["summary"], list) and any("deflated Sharpe" in s for s in rep["summary"])
    assert rep["executor"] == {"backend": "processes", "workers": 2}
    assert (paiid_home / "optimize" / "GOOG" / "momentum-macd.json").exists()
    assert (paiid_home / "optuna.db").exists()

    listed = paiid(paiid_home, "optimize", "--list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["results"]
    assert [(r["symbol"], r["strategy_id"]) for r in rows] == [("GOOG", "momentum-macd")]
    assert rows[0]["best_params"] == rep["best_params"]

    # A rerun with another seed in the same home deflates by both runs' trials.
    again = paiid(paiid_home, "optimize", "GOOG", "--strategy", "momentum-macd", "--trials", "6",
                  "--splits", "2", "--search", "fast", "--search", "slow", "--param", "roc_min=0",
                  "--seed", "1", "--workers", "1", "--json")
    assert again.returncode == 0, again.stderr
    tc2 = json.loads(again.stdout)["trials_counted"]
    assert tc2["earlier_runs"] == {"runs": 1, "trials": tc["total"]}
    assert tc2["total"] == tc["total"] + sum(tc2["this_run"].values())


def test_human_output_shows_baselines_and_luck(paiid_home: Path) -> None:
    res = CliRunner().invoke(app, ["optimize", "SPX", "-s", "trend-following-ma-cross", "-n", "4",
                                   "--splits", "2", "--search", "fast", "--range", "fast=5:30",
                                   "--workers", "1"])
    assert res.exit_code == 0, res.output
    for text in ("buy_and_hold", "default", "deflated Sharpe", "overfitting", "verdict", "normal moments",
                 "PBO range", "trials counted", "trades / active bars", "optimised minus default",
                 "reported for inspection only"):
        assert text in res.stdout


def test_bad_input_exits_2_with_one_line(paiid_home: Path) -> None:
    runner = CliRunner()
    for args, msg in [
        (["optimize", "SPX", "--strategy", "nope"], "unknown strategy"),
        (["optimize", "SPX", "--strategy", "momentum-macd", "--range", "fast=5"], "bad --range"),
        (["optimize", "SPX", "--strategy", "momentum-macd", "--range", "fast=1:500"], "must lie inside"),
        (["optimize", "SPX"], "--strategy"),
        (["optimize", "NOSUCH", "--strategy", "momentum-macd"], "unknown symbol"),
        (["optimize", "SPX", "--strategy", "momentum-macd", "--trials", "1"], "at least 2"),
    ]:
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert res.stderr.startswith("error: ") and msg in res.stderr and res.stderr.count("\n") == 1
        assert res.stdout == ""

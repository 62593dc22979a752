"""Walk-forward optimisation: finds planted parameters, claims no skill on noise, never peeks ahead."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from paiid.backtest import run_backtest
from paiid.engine import executor
from paiid.errors import BadInput, NotEnoughHistory
from paiid.ml.optimize import list_results, load_result, optimize, search_space

MA = "trend-following-ma-cross"
#: Searching fast/slow of an always-in-the-market SMA cross (ADX filter off).
MA_KW = {"space": ["fast", "slow"], "fixed": {"adx_min": 0.0, "allow_short": 1},
         "bounds": {"fast": (2, 30), "slow": (20, 100)}}


def planted_ma_cross(n: int, fast: int, slow: int, *, mu: float = 0.0015, sigma: float = 0.01,
                     seed: int = 0) -> pd.DataFrame:
    """Bars whose next-bar drift is +mu when SMA(fast) > SMA(slow) of the closes so far, else -mu.

    Each bar opens at the previous close, so the SMA cross with exactly (fast, slow), deciding at the
    close and filled at the next open, collects the drift on every bar; other windows only partly.
    With mu = 0.15 sigma, a grid search over the engine's backtests puts (fast, slow) first.
    """
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(n)
    close = np.empty(n)
    close[0] = 100.0
    for t in range(1, n):
        drift = 0.0
        if t >= slow:
            drift = mu if close[t - fast:t].mean() > close[t - slow:t].mean() else -mu
        close[t] = close[t - 1] * np.exp(drift + sigma * eps[t])
    open_ = np.r_[100.0, close[:-1]]
    idx = pd.bdate_range("2000-01-03", periods=n, name="date")
    return pd.DataFrame({
        "open": open_, "high": np.maximum(open_, close) * 1.002, "low": np.minimum(open_, close) * 0.998,
        "close": close, "volume": np.full(n, 1e6),
    }, index=idx)


def noise(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.standard_normal(n) * 0.01))
    open_ = np.r_[100.0, close[:-1]]
    idx = pd.bdate_range("2000-01-03", periods=n, name="date")
    return pd.DataFrame({
        "open": open_, "high": np.maximum(open_, close) * 1.002, "low": np.minimum(open_, close) * 0.998,
        "close": close, "volume": rng.uniform(5e5, 2e6, n),
    }, index=idx)


def test_finds_planted_parameters_and_calls_them_skill():
    bars = planted_ma_cross(4000, fast=5, slow=30)
    rep = optimize(bars, MA, symbol="PLANT", n_trials=40, n_splits=3, seed=0, storage="memory", **MA_KW)
    best = rep["best_params"]
    # Tolerance: the grid's top-10 sit within 2 of fast and 8 of slow of the planted pair.
    assert abs(best["fast"] - 5) <= 3 and abs(best["slow"] - 30) <= 8, best
    wf = rep["walk_forward"]
    # Later windows (more history) find it too, and it pays out of sample.
    assert abs(wf["windows"][-1]["best_params"]["fast"] - 5) <= 3
    assert wf["oos_sharpe"]["optimized"] > wf["oos_sharpe"]["default"] + 0.3
    assert wf["oos_sharpe"]["optimized"] > wf["oos_sharpe"]["buy_and_hold"]
    assert rep["deflated_sharpe"]["dsr"] > 0.95 and rep["deflated_sharpe"]["significant"]
    assert rep["pbo"]["pbo"] < 0.1
    assert rep["verdict"].startswith("the optimised parameters show skill")
    # Every trial is accounted for (completed + pruned + impossible parameter pairs).
    c = rep["in_sample"]["trials"]
    assert c["requested"] == 40 == c["completed"] + c["pruned"] + c["invalid"]
    # The DSR deflates by every trial of the search: the three window studies and the full-history one.
    evaluated = [t["completed"] + t["pruned"] for t in [*(w["trials"] for w in wf["windows"]), c]]
    tc = rep["trials_counted"]
    assert tc["this_run"] == {"walk_forward": sum(evaluated[:-1]), "full_history": evaluated[-1]}
    assert rep["deflated_sharpe"]["n_trials"] == tc["total"] == sum(evaluated)
    # Always in the market: hundreds of trades, so the guard does not get in the way of real skill.
    assert rep["deflated_sharpe"]["n_trades"] >= 30 and rep["deflated_sharpe"]["enough_activity"]
    assert rep["deflated_sharpe"]["dsr_normal"] > 0.95
    assert rep["walk_forward"]["optimized_minus_default"]["p_value"] < 0.05
    assert rep["pbo"]["pbo_range"][1] < 0.2 and len(rep["pbo"]["pbo_runs"]) == 12
    assert any("significant" in line for line in rep["summary"])


def test_noise_gets_high_pbo_and_no_significant_deflated_sharpe():
    # Under no skill the in-sample winner's out-of-sample rank is uniform, so PBO's expectation is
    # 1/2; one PBO estimate is noisy (the trials are correlated), so three seeds are averaged and
    # held to > 0.3. The DSR must not call any of them significant.
    reps = [optimize(noise(2500, s), MA, symbol=f"NOISE{s}", n_trials=30, n_splits=3, seed=s, save=False,
                     storage="memory", **MA_KW) for s in range(3)]
    pbos = [r["pbo"]["pbo"] for r in reps]
    assert np.mean(pbos) > 0.3, pbos
    for r in reps:
        assert r["deflated_sharpe"]["dsr"] < 0.95
        assert not r["deflated_sharpe"]["significant"]
        assert "skill beyond" not in r["verdict"]
        # The luck benchmark is above zero: trying many windows makes a positive best Sharpe expected.
        assert r["deflated_sharpe"]["expected_max_sharpe"] > 0


def test_no_lookahead_changing_the_future_does_not_change_past_windows():
    bars = planted_ma_cross(1600, fast=5, slow=30, seed=1)
    kw = {"n_trials": 10, "n_splits": 2, "seed": 0, "save": False, "storage": "memory", **MA_KW}
    base = optimize(bars, MA, **kw)
    w0 = base["walk_forward"]["windows"][0]
    cut = w0["train"]["bars"]  # first test bar of window 0
    test_end = cut + w0["test"]["bars"]
    # Scramble every bar from window 0's test start on: its in-sample choice must not move.
    scrambled = bars.copy()
    scrambled.iloc[cut:] = noise(len(bars), 99).iloc[cut:].to_numpy() * bars["close"].iloc[cut - 1] / 100
    other = optimize(scrambled, MA, **kw)
    o0 = other["walk_forward"]["windows"][0]
    assert o0["best_params"] == w0["best_params"]
    assert o0["in_sample_sharpe"] == w0["in_sample_sharpe"]
    assert o0["oos_sharpe"]["optimized"] != w0["oos_sharpe"]["optimized"]  # the test window did change
    # Scramble only after window 0's test window: its out-of-sample score must not move either.
    later = bars.copy()
    level = bars["close"].iloc[test_end - 1] / 100
    later.iloc[test_end:] = noise(len(bars), 98).iloc[test_end:].to_numpy() * level
    o0 = optimize(later, MA, **kw)["walk_forward"]["windows"][0]
    assert o0["best_params"] == w0["best_params"]
    assert o0["oos_sharpe"] == w0["oos_sharpe"]


def test_baselines_are_recomputable_from_the_backtest():
    bars = noise(1400, 5)
    rep = optimize(bars, MA, n_trials=6, n_splits=2, seed=0, save=False, storage="memory", **MA_KW)
    w = rep["walk_forward"]["windows"][1]
    start = w["train"]["bars"]
    stop = start + w["test"]["bars"]
    bpy = rep["data"]["bars_per_year"]
    r = run_backtest(bars, MA, rep["default_params"], close_at_end=False).returns[start:stop]
    assert w["oos_sharpe"]["default"] == pytest.approx(r.mean() / r.std(ddof=1) * np.sqrt(bpy))
    c = bars["close"].to_numpy()[start - 1:stop]
    bh = c[1:] / c[:-1] - 1
    assert w["oos_sharpe"]["buy_and_hold"] == pytest.approx(bh.mean() / bh.std(ddof=1) * np.sqrt(bpy))
    assert rep["default_params"]["fast"] == 20 and rep["default_params"]["adx_min"] == 0.0


def test_same_seed_same_result_in_the_database_and_in_memory_and_stored(paiid_home, database):
    """On SQLite (Optuna's own file in the home) and on PostgreSQL (the trials in the database server)."""
    bars = noise(1400, 7)
    kw = {"symbol": "syn7", "n_trials": 8, "n_splits": 2, "seed": 4, **MA_KW}
    a = optimize(bars, MA, **kw)
    assert (paiid_home / "optuna.db").exists() == (database.kind == "sqlite")
    b = optimize(bars, MA, storage="memory", **kw)
    drop = ("created", "elapsed_s", "settings")
    assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}
    # b repeats a (same data, settings, seed): the same trials looked at again count once.
    assert b["trials_counted"]["earlier_runs"] == {"runs": 0, "trials": 0}
    assert load_result("syn7", MA)["walk_forward"] == a["walk_forward"]
    assert load_result("syn7", MA)["best_params"] == a["best_params"]
    assert [r["symbol"] for r in list_results()] == ["SYN7"]
    assert list_results()[0]["trials_counted"] == a["trials_counted"]["total"]
    assert load_result("SYN7", "momentum-macd") is None


def _this_run(rep: dict) -> int:
    return sum(rep["trials_counted"]["this_run"].values())


def test_every_trial_of_the_search_is_counted_and_a_rerun_raises_the_count(paiid_home):
    bars = noise(1400, 3)
    kw = {"symbol": "CNT", "n_trials": 6, "n_splits": 2, **MA_KW}
    a = optimize(bars, MA, seed=0, **kw)
    assert a["trials_counted"]["total"] == _this_run(a) == a["deflated_sharpe"]["n_trials"]
    b = optimize(bars, MA, seed=1, **kw)  # a rerun with another seed: new trials on the same history
    assert b["trials_counted"]["earlier_runs"] == {"runs": 1, "trials": _this_run(a)}
    assert b["deflated_sharpe"]["n_trials"] == b["trials_counted"]["total"] == _this_run(a) + _this_run(b)
    # More trials, same spread of trial Sharpes: the luck benchmark can only go up.
    assert b["deflated_sharpe"]["expected_max_sharpe"] >= optimize(
        bars, MA, seed=1, storage="memory", save=False, **{**kw, "symbol": "FRESH"}
    )["deflated_sharpe"]["expected_max_sharpe"]
    c = optimize(bars, MA, seed=0, **kw)  # an exact repeat of a: counted once
    assert c["trials_counted"]["total"] == b["trials_counted"]["total"]
    # The ledger keeps the count when the Optuna storage is gone.
    (paiid_home / "optuna.db").unlink()
    d = optimize(bars, MA, seed=2, **kw)
    assert d["trials_counted"]["earlier_runs"] == {"runs": 2, "trials": _this_run(a) + _this_run(b)}
    # Another template on the same symbol is part of the same search; another symbol only in a group.
    e = optimize(bars, "momentum-macd", seed=0, symbol="CNT", n_trials=6, n_splits=2, save=False)
    assert e["trials_counted"]["other_templates"] == {MA: d["trials_counted"]["total"]}
    f = optimize(bars, MA, seed=0, symbol="OTHER", n_trials=6, n_splits=2, save=False, **MA_KW)
    assert f["trials_counted"]["total"] == _this_run(f) and f["trials_counted"]["other_symbols"] == {}
    g1 = optimize(bars, MA, seed=0, symbol="G1", n_trials=6, n_splits=2, group="universe", **MA_KW)
    g2 = optimize(bars, MA, seed=3, symbol="G2", n_trials=6, n_splits=2, group="universe", **MA_KW)
    assert g2["trials_counted"]["other_symbols"] == {f"G1:{MA}": _this_run(g1)}
    assert g2["trials_counted"]["total"] == _this_run(g1) + _this_run(g2)


def test_several_workers_cooperate_on_one_study_through_the_shared_storage(paiid_home, database):
    bars = noise(1400, 8)
    rep = optimize(bars, MA, n_trials=12, n_splits=2, seed=0, save=False, workers_per_study=2,
                   mapper=functools.partial(executor.map, workers=2), **MA_KW)
    assert rep["in_sample"]["trials"]["requested"] == 12
    assert all(w["trials"]["requested"] == 12 for w in rep["walk_forward"]["windows"])
    assert (paiid_home / "optuna.db").exists() == (database.kind == "sqlite")


def test_bad_requests_are_refused_with_what_to_do():
    bars = noise(1400, 1)
    with pytest.raises(BadInput, match="unknown parameter"):
        optimize(bars, MA, space=["speed"])
    with pytest.raises(BadInput, match="at least 2"):
        optimize(bars, MA, n_trials=1)
    with pytest.raises(BadInput, match="must lie inside"):
        search_space(__import__("paiid.backtest", fromlist=["x"]).get_strategy(MA), bounds={"fast": (0, 500)})
    with pytest.raises(BadInput, match="unknown strategy"):
        optimize(bars, "nope")
    with pytest.raises(NotEnoughHistory):
        optimize(bars.iloc[:300], MA)

"""The executor layer: same results in input order on one process, local processes and a Dask cluster."""

from __future__ import annotations

import functools
import math
import operator
import os

import numpy as np
import pandas as pd
import pytest

from paiid.backtest import STRATEGIES, run_backtest
from paiid.bench.optimize import synthetic_symbol, synthetic_universe
from paiid.data import chronological_split
from paiid.engine import executor
from paiid.errors import BadInput, NotEnoughHistory
from paiid.ml.optimize import optimize

MA = "trend-following-ma-cross"
OPT_KW = {"symbol": "SYN001", "n_trials": 10, "n_splits": 2, "seed": 3, "save": False,
          "space": ["fast", "slow"], "fixed": {"adx_min": 0.0}, "bounds": {"slow": (5, 120)}}


def _strip(rep: dict) -> dict:
    """Everything but timestamps, timings and run ids."""
    return {k: v for k, v in rep.items() if k not in ("created", "elapsed_s", "settings")}


@pytest.fixture(scope="module")
def universe() -> dict[str, pd.DataFrame]:
    return synthetic_universe(5, 1200, seed=1)


def test_map_keeps_input_order_on_every_local_backend():
    items = list(range(40, 0, -1))
    expect = [math.sqrt(x) for x in items]
    assert executor.map(math.sqrt, items, workers=1) == expect
    assert executor.map(math.sqrt, items, workers=2) == expect
    assert executor.map(math.sqrt, [], workers=2) == []


def test_serial_runs_in_this_process_so_closures_work():
    offset = 3
    assert executor.map(lambda x: x + offset, [1, 2], workers=1) == [4, 5]


def test_worker_errors_arrive_with_their_type_and_fields():
    # NotEnoughHistory's __init__ takes (what, needed, available), not its message: it must still
    # come back as itself so the CLI can map it to exit code 2.
    fn = functools.partial(chronological_split, purge=5)
    with pytest.raises(NotEnoughHistory) as info:
        executor.map(fn, [500, 3, 600, 700], workers=2)
    assert info.value.available == 3 and info.value.exit_code == 2
    assert "in chronological_split" in str(info.value.__cause__)  # the worker's traceback comes along
    with pytest.raises(ZeroDivisionError):
        executor.map(functools.partial(operator.truediv, 1), [1, 0, 2], workers=2)


def test_scheduler_comes_from_the_argument_or_the_environment(monkeypatch):
    monkeypatch.delenv("PAIID_DASK_SCHEDULER", raising=False)
    assert executor.resolve_scheduler(None) is None
    assert executor.describe(None, 1) == {"backend": "serial", "workers": 1}
    monkeypatch.setenv("PAIID_DASK_SCHEDULER", "tcp://127.0.0.1:9")
    assert executor.resolve_scheduler(None) == "tcp://127.0.0.1:9"
    assert executor.resolve_scheduler("local") is None
    assert executor.describe()["backend"] == "dask"
    with pytest.raises(ValueError):
        executor.map(math.sqrt, [1], workers=0, scheduler="local")


def test_an_unreachable_scheduler_is_a_bad_input_with_what_to_do(monkeypatch):
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(BadInput, match="cannot reach the Dask scheduler"):
        executor.map(math.sqrt, [1, 2], scheduler="tcp://127.0.0.1:9")


def test_universe_backtest_matches_single_backtests_and_is_identical_across_backends(universe):
    serial = executor.backtest_universe(universe, workers=1)
    assert [(r["symbol"], r["strategy_id"]) for r in serial] == [
        (s, sid) for s in universe for sid in STRATEGIES
    ]
    procs = executor.backtest_universe(universe, workers=2)
    pd.testing.assert_frame_equal(pd.DataFrame(serial), pd.DataFrame(procs), check_exact=True)
    # Workers loading their own bars by name give the same rows.
    loader = functools.partial(synthetic_symbol, n_bars=1200, seed=1)
    loaded = executor.backtest_universe(list(universe), loader=loader, workers=2)
    pd.testing.assert_frame_equal(pd.DataFrame(serial), pd.DataFrame(loaded), check_exact=True)
    # Each row is what a one-symbol backtest reports.
    row = next(r for r in serial if r["symbol"] == "SYN002" and r["strategy_id"] == MA)
    single = run_backtest(universe["SYN002"], MA).metrics
    for key in ("sharpe", "total_return", "trades", "max_drawdown"):
        assert row[key] == pytest.approx(single[key], rel=1e-9), key


def test_dataset_contexts_built_in_workers_equal_the_in_process_ones(universe):
    from paiid.ml.context import build_context

    two = {k: universe[k] for k in list(universe)[:2]}
    got = executor.build_contexts(two, workers=2)
    for sym, bars in two.items():
        ref = build_context(sym, bars)
        assert got[sym].symbol == sym
        pd.testing.assert_frame_equal(got[sym].features, ref.features, check_exact=True)
        for tid in ref.returns:
            np.testing.assert_array_equal(got[sym].returns[tid], ref.returns[tid])
        np.testing.assert_array_equal(got[sym].regime, ref.regime)


@pytest.mark.slow
def test_dask_cluster_gives_identical_results_to_the_local_run(universe, monkeypatch, tmp_path):
    distributed = pytest.importorskip("distributed")
    local_rows = executor.backtest_universe(universe, workers=2)
    local_opt = optimize(universe["SYN001"], MA, mapper=functools.partial(executor.map, workers=1), **OPT_KW)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
        local_directory=str(tmp_path / "dask"),
    ) as cluster:
        address = cluster.scheduler_address
        dask_rows = executor.backtest_universe(universe, scheduler=address)
        pd.testing.assert_frame_equal(pd.DataFrame(local_rows), pd.DataFrame(dask_rows), check_exact=True)

        dask_opt = optimize(universe["SYN001"], MA, mapper=functools.partial(executor.map, scheduler=address),
                            **OPT_KW)
        assert _strip(dask_opt) == _strip(local_opt)

        # PAIID_DASK_SCHEDULER routes plain calls to the cluster; worker errors keep their type there too.
        monkeypatch.setenv("PAIID_DASK_SCHEDULER", address)
        assert executor.map(math.sqrt, [9, 4, 1]) == [3.0, 2.0, 1.0]
        with pytest.raises(NotEnoughHistory):
            executor.map(functools.partial(chronological_split, purge=5), [500, 3])
        # The workers started with this test's home; a caller that moved to another home (so another
        # SQLite database) has its settings applied on the worker, not the worker's own.
        moved = tmp_path / "moved-home"
        monkeypatch.setenv("PAIID_HOME", str(moved))
        monkeypatch.setenv("PAIID_REFIT_EVERY", "year")
        assert executor.map(os.getenv, ["PAIID_HOME", "PAIID_REFIT_EVERY"]) == [str(moved), "year"]
        monkeypatch.delenv("PAIID_REFIT_EVERY")
        assert executor.map(os.getenv, ["PAIID_REFIT_EVERY"]) == [None]  # unset in the caller: unset there
        # Both workers took part (the work was really distributed).
        client = distributed.Client(address, set_as_default=False)
        try:
            assert len(client.scheduler_info()["workers"]) == 2
        finally:
            client.close()
    assert np.isfinite(local_opt["walk_forward"]["oos_sharpe"]["optimized"])

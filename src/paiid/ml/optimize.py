"""Walk-forward parameter optimisation of the strategy templates, with the luck taken out.

What `optimize` does, and why:

1. **Walk-forward.** `paiid.data.walk_forward` cuts the history into an expanding in-sample window and
   the out-of-sample window that follows it. For each window an Optuna study (TPE sampler seeded, median
   pruning) searches the template's parameter ranges maximising the in-sample Sharpe ratio. The study's
   objective is only ever handed the bars *before* the test window (the prefix), so it cannot peek. The
   winner then trades the next window; the stitched out-of-sample returns are the honest score, shown
   beside the template's default parameters and buy-and-hold over exactly the same bars.
2. **A final study on all history** gives the parameters to use from now on (`best_params`). Its
   in-sample Sharpe is inflated by selection, so it is reported with the **deflated Sharpe ratio** (the
   chance the winner's true Sharpe beats the best that luck alone would give after that many trials)
   and the **probability of backtest overfitting** by CSCV over every parameter set the study tried.
   See `paiid.ml.overfitting`.
3. **Pruning.** A trial first runs on the earlier half of its in-sample bars; if its Sharpe there is
   below the median of earlier trials at that step, Optuna stops it. Pruned trials still count in the
   DSR's number of trials (they were looked at), and their parameter sets are in the PBO matrix.
4. **Scale-out.** Each window's study is an independent task handed to a `mapper` (the engine's
   executor: local processes or a Dask cluster); every trial ends up in one Optuna RDB storage
   (`storage_url()`), which is also where the report is computed from. One worker per study keeps
   the result reproducible: the same seed gives the same numbers on one process or on a cluster.
   `workers_per_study > 1` lets several workers cooperate on each study live through the shared
   storage (faster for big studies, but TPE then sees trials in a timing-dependent order, so results
   are no longer bit-for-bit reproducible). See `run_study` for how writes are batched.

`ml` never imports `engine`; the CLI passes `paiid.engine.executor.map` in as `mapper`.

Results are stored as JSON under `PAIID_HOME/optimize/<SYMBOL>/<strategy_id>.json`;
`best_params(symbol, strategy_id)` reads them back for backtests and the selector.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paiid import config
from paiid.backtest import bars_per_year, get_strategy, run_backtest
from paiid.backtest.strategies import StrategyTemplate
from paiid.data import normalise_symbol, walk_forward
from paiid.errors import BadInput, NotEnoughHistory, PaiidError
from paiid.features import WARMUP
from paiid.jsonutil import to_jsonable
from paiid.ml.overfitting import (
    dedupe_columns,
    deflated_sharpe_ratio,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio,
)

#: A `map(fn, items, *, desc=...) -> list` callable; the engine's executor fits.
Mapper = Callable[..., list]

DEFAULT_TRIALS = 50
DEFAULT_SPLITS = 4
#: Blocks for CSCV: C(16, 8) = 12,870 splits, each block ~ 1/16 of the history.
CSCV_BLOCKS = 16
#: In-sample bars scored start after the feature warm-up, so every template is judged on the same bars.
SCORE_FROM = WARMUP


def _serial_map(fn: Callable, items: Sequence, **_: Any) -> list:
    return [fn(x) for x in items]


# ------------------------------------------------------------------------------------------ storage


def storage_url() -> str:
    """Where Optuna keeps trials so that workers cooperate.

    `PAIID_OPTUNA_STORAGE` if set; else `PAIID_DATABASE_URL` when it is a server database (several
    machines can reach it); else a separate SQLite file `PAIID_HOME/optuna.db` (kept apart from the bar
    store so Optuna's schema and write bursts never touch it).
    """
    explicit = os.environ.get("PAIID_OPTUNA_STORAGE")
    if explicit:
        return explicit
    db = os.environ.get("PAIID_DATABASE_URL")
    if db and not db.startswith("sqlite"):
        return db
    return f"sqlite:///{config.home() / 'optuna.db'}"


def _sqlite_path(url: str) -> str | None:
    return url[len("sqlite:///"):] if url.startswith("sqlite:///") else None


#: `storage="memory"`: one in-memory Optuna storage per process, for quick single-process runs.
MEMORY = "memory"
_memory_storage: Any = None


def _storage(url: str) -> Any:
    """Optuna's RDB storage on `url` (or the process's in-memory storage for "memory").

    For SQLite: WAL (readers never block the writer), a 60 s busy timeout (concurrent workers queue
    instead of failing) and synchronous=NORMAL (no fsync per trial; in WAL mode a crash of the
    process loses nothing, a power cut at most the last trials).
    """
    import optuna

    global _memory_storage
    if url == MEMORY:
        if _memory_storage is None:
            _memory_storage = optuna.storages.InMemoryStorage()
        return _memory_storage
    kwargs: dict[str, Any] = {}
    path = _sqlite_path(url)
    if path is not None:

        def connect() -> sqlite3.Connection:
            con = sqlite3.connect(path, timeout=60, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            return con

        kwargs["creator"] = connect
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def _prepare_storage(url: str) -> None:
    """Create the schema once in the caller: workers creating it at the same moment would race."""
    if url == MEMORY:
        return
    path = _sqlite_path(url)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    _storage(url)


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


# ------------------------------------------------------------------------------------ search space


def search_space(
    tpl: StrategyTemplate,
    space: Sequence[str] | None = None,
    fixed: Mapping[str, Any] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, tuple[float, float, str]]:
    """The ranges searched: `space` (default: every parameter) minus the `fixed` ones, optionally
    narrowed by `bounds` (which must stay inside the template's own ranges)."""
    names = list(space) if space else list(tpl.ranges)
    unknown = [n for n in [*names, *(fixed or {}), *(bounds or {})] if n not in tpl.ranges]
    if unknown:
        raise BadInput(
            f"unknown parameter(s) {', '.join(unknown)} for {tpl.id}; valid: {', '.join(tpl.ranges)}"
        )
    out = {n: tpl.ranges[n] for n in names if n not in (fixed or {})}
    for name, (lo, hi) in (bounds or {}).items():
        if name not in out:
            continue
        t_lo, t_hi, kind = tpl.ranges[name]
        if not (t_lo <= lo <= hi <= t_hi):
            raise BadInput(f"range {name}={lo:g}:{hi:g} must lie inside {t_lo:g}:{t_hi:g} for {tpl.id}")
        out[name] = (lo, hi, kind)
    if not out:
        raise BadInput(f"nothing to optimise for {tpl.id}: every parameter is fixed")
    return out


def _suggest(trial: Any, ranges: Mapping[str, tuple[float, float, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (lo, hi, kind) in ranges.items():
        if kind == "int":
            out[name] = trial.suggest_int(name, int(lo), int(hi))
        else:
            out[name] = trial.suggest_float(name, float(lo), float(hi))
    return out


def _returns(bars: pd.DataFrame, strategy_id: str, params: Mapping[str, Any]) -> np.ndarray:
    """Per-bar returns after costs of the template on `bars` (signals computed once, then simulated).

    `close_at_end=False` marks a trade still open on the last bar to market instead of charging its
    exit there, so the returns up to bar t are the same whether or not later bars exist: a run on a
    prefix is exactly the start of the run on the whole history.

    A parameter set that never takes a position (common: e.g. a volume filter nothing passes) earns
    exactly 0 on every bar; that is returned directly instead of simulating an empty trade list.
    """
    tpl = get_strategy(strategy_id)
    sig = tpl.signals(None, bars, params)
    if not np.any(sig[:-1]):
        need = tpl.min_bars(params)
        if len(bars) < need:
            raise NotEnoughHistory(f"backtesting {tpl.id}", need, len(bars))
        return np.zeros(len(bars))
    return run_backtest(bars, strategy_id, params, signals=sig, close_at_end=False).returns


def _annual(sr_per_bar: float, bpy: float) -> float:
    return float(sr_per_bar * math.sqrt(bpy))


# ---------------------------------------------------------------------------------- study (worker)


@dataclass(frozen=True)
class StudyTask:
    """One unit of work for a worker: run `n_trials` trials of one window's study."""

    storage: str
    study_name: str
    bars: pd.DataFrame  # the in-sample prefix only: bars after it do not exist for this task
    strategy_id: str
    ranges: dict[str, tuple[float, float, str]]
    fixed: dict[str, Any]
    n_trials: int
    seed: int
    n_startup: int
    cooperative: bool = False  # other workers run trials of the same study at the same time


def _objective_factory(task: StudyTask) -> Callable[[Any], float]:
    import optuna

    tpl = get_strategy(task.strategy_id)
    bars = task.bars
    n = len(bars)
    bpy = bars_per_year(bars.index)
    # Step 0 scores the earlier half of the scored in-sample bars (a prefix run: cheaper, and it
    # cannot see anything the full run would not), step 1 all of them.
    mid = SCORE_FROM + (n - SCORE_FROM) // 2
    ends = [mid, n] if mid - SCORE_FROM >= 60 else [n]

    def objective(trial: optuna.Trial) -> float:
        params = {**task.fixed, **_suggest(trial, task.ranges)}
        try:
            params = tpl.validate_params(params)
        except BadInput as exc:  # e.g. fast >= slow: not a trial, just an impossible point
            trial.set_user_attr("invalid", exc.message)
            raise optuna.TrialPruned() from None
        score = float("nan")
        for step, end in enumerate(ends):
            try:
                r = _returns(bars.iloc[:end], tpl.id, params)
            except NotEnoughHistory as exc:
                trial.set_user_attr("invalid", exc.message)
                raise optuna.TrialPruned() from None
            score = _annual(sharpe_ratio(r[SCORE_FROM:end]), bpy)
            if step < len(ends) - 1:
                trial.report(score, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
        return score

    return objective


def run_study(task: StudyTask) -> dict[str, Any]:
    """Run `task.n_trials` trials of an existing study (module level so any worker can run it).

    Alone on its study, a worker samples against an in-memory copy and writes the finished trials
    to the shared storage in one go at the end: the sampler sees exactly the same history either way,
    and the shared database takes one write per trial instead of one per parameter and report (with
    SQLite, concurrent writers otherwise spend their time waiting for the lock). Cooperating workers
    must see each other's trials as they happen, so they use the shared storage directly.
    """
    import optuna

    _quiet_optuna()
    t0 = time.perf_counter()
    sampler = optuna.samplers.TPESampler(seed=task.seed, multivariate=True, n_startup_trials=task.n_startup)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=task.n_startup, n_warmup_steps=0)
    shared = optuna.load_study(study_name=task.study_name, storage=_storage(task.storage), sampler=sampler,
                               pruner=pruner)
    if task.cooperative:
        shared.optimize(_objective_factory(task), n_trials=task.n_trials)
    else:
        local = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
        local.optimize(_objective_factory(task), n_trials=task.n_trials)
        shared.add_trials(local.get_trials(deepcopy=False))
    return {"study": task.study_name, "trials": task.n_trials, "seconds": time.perf_counter() - t0}


# --------------------------------------------------------------------------------------- analysis


def _trials(storage: str, study_name: str) -> list[Any]:
    import optuna

    study = optuna.load_study(study_name=study_name, storage=_storage(storage))
    return sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)


def _best(trials: list[Any]) -> Any | None:
    """Highest value among completed trials; ties go to the earliest (deterministic)."""
    import optuna

    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
            and math.isfinite(t.value)]
    if not done:
        return None
    return max(done, key=lambda t: (t.value, -t.number))


def _evaluated(trials: list[Any]) -> list[Any]:
    """Trials whose parameters were actually backtested (completed or pruned, not impossible)."""
    import optuna

    ok = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return [t for t in trials if t.state in ok and "invalid" not in t.user_attrs]


def _counts(trials: list[Any]) -> dict[str, int]:
    import optuna

    states = [t.state for t in trials]
    invalid = sum("invalid" in t.user_attrs for t in trials)
    return {
        "requested": len(trials),
        "completed": states.count(optuna.trial.TrialState.COMPLETE),
        "pruned": states.count(optuna.trial.TrialState.PRUNED) - invalid,
        "invalid": invalid,
    }


def _buy_and_hold(close: np.ndarray) -> np.ndarray:
    r = np.zeros(close.size)
    r[1:] = close[1:] / close[:-1] - 1.0
    return r


def _total(r: np.ndarray) -> float:
    return float(np.prod(1.0 + r) - 1.0)


# ------------------------------------------------------------------------------------------ optimize


def optimize(
    bars: pd.DataFrame,
    strategy_id: str,
    *,
    symbol: str = "custom",
    n_trials: int = DEFAULT_TRIALS,
    n_splits: int = DEFAULT_SPLITS,
    min_train: int | None = None,
    seed: int = 0,
    space: Sequence[str] | None = None,
    fixed: Mapping[str, Any] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    cscv_blocks: int = CSCV_BLOCKS,
    mapper: Mapper | None = None,
    workers_per_study: int = 1,
    storage: str | None = None,
    save: bool = True,
) -> dict[str, Any]:
    """Walk-forward optimise `strategy_id` on `bars`; see the module docstring.

    `storage`: an Optuna RDB URL (default `storage_url()`), or "memory" for a run that stays in this
    process (no database, no workers: the studies then run in-process whatever `mapper` is given).
    `space` limits the searched parameters, `fixed` pins some (they also apply to the default-params
    baseline), `bounds` narrows ranges (`{"fast": (5, 30)}`). `mapper` runs the studies (default:
    in this process). Returns a JSON-ready report and, with `save`, stores it for `best_params`.
    """
    tpl = get_strategy(strategy_id)
    fixed = dict(fixed or {})
    ranges = search_space(tpl, space, fixed, bounds)
    defaults = tpl.validate_params(fixed)
    if n_trials < 2:
        raise BadInput("--trials must be at least 2 (one trial is not an optimisation)")
    if workers_per_study < 1:
        raise BadInput("workers_per_study must be >= 1")
    n = len(bars)
    if min_train is None:
        min_train = max(SCORE_FROM + 250, n // (n_splits + 1))
    need = min_train + n_splits * 60
    if n < need:
        raise NotEnoughHistory(f"walk-forward optimisation with {n_splits} windows", need, n)
    splits = walk_forward(n, n_splits=n_splits, min_train=min_train)
    url = storage or storage_url()
    mapper = _serial_map if (mapper is None or url == MEMORY) else mapper
    _prepare_storage(url)
    _quiet_optuna()
    import optuna

    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    windows = [(f"wf{k}", int(s.test[0]), int(s.test[0]), int(s.test[-1]) + 1) for k, s in enumerate(splits)]
    windows.append(("full", n, n, n))
    n_startup = max(5, min(20, n_trials // 4))
    tasks: list[StudyTask] = []
    for k, (name, train_end, _, _) in enumerate(windows):
        study_name = f"paiid:{normalise_symbol(symbol)}:{tpl.id}:{run_id}:{name}"
        optuna.create_study(study_name=study_name, storage=_storage(url), direction="maximize")
        share = [n_trials // workers_per_study + (j < n_trials % workers_per_study)
                 for j in range(workers_per_study)]
        for j, count in enumerate(share):
            if count:
                tasks.append(StudyTask(
                    storage=url, study_name=study_name, bars=bars.iloc[:train_end], strategy_id=tpl.id,
                    ranges=ranges, fixed=fixed, n_trials=count, seed=seed * 1009 + k * 101 + j,
                    n_startup=n_startup, cooperative=workers_per_study > 1,
                ))
    tasks.sort(key=lambda t: -len(t.bars))  # longest studies first: better balance across workers
    t0 = time.perf_counter()
    mapper(run_study, tasks, desc=f"optimising {tpl.id} on {symbol}")
    elapsed = time.perf_counter() - t0

    bpy = bars_per_year(bars.index)
    close = bars["close"].to_numpy(np.float64)
    bh_all = _buy_and_hold(close)
    report_windows = []
    oos_opt, oos_def, oos_bh = [], [], []
    by_window = {t.study_name.rsplit(":", 1)[1]: t.study_name for t in tasks}
    for name, train_end, test_start, test_end in windows[:-1]:
        trials = _trials(url, by_window[name])
        best = _best(trials)
        if best is None:
            raise PaiidError(f"no trial of window {name} completed: widen the ranges or add history")
        params = tpl.validate_params({**fixed, **best.params})
        # The test window's returns come from a run that ends with that window: nothing later exists.
        r_opt = _returns(bars.iloc[:test_end], tpl.id, params)[test_start:test_end]
        r_def = _returns(bars.iloc[:test_end], tpl.id, defaults)[test_start:test_end]
        r_bh = bh_all[test_start:test_end]
        oos_opt.append(r_opt)
        oos_def.append(r_def)
        oos_bh.append(r_bh)
        report_windows.append({
            "window": name,
            "train": {"start": bars.index[0], "end": bars.index[train_end - 1], "bars": train_end},
            "test": {"start": bars.index[test_start], "end": bars.index[test_end - 1],
                     "bars": test_end - test_start},
            "best_params": params,
            "in_sample_sharpe": float(best.value),
            "oos_sharpe": {"optimized": _annual(sharpe_ratio(r_opt), bpy),
                           "default": _annual(sharpe_ratio(r_def), bpy),
                           "buy_and_hold": _annual(sharpe_ratio(r_bh), bpy)},
            "trials": _counts(trials),
        })
    r_opt, r_def, r_bh = (np.concatenate(x) for x in (oos_opt, oos_def, oos_bh))

    # Final study on all history: the parameters to use from now on, deflated for the search.
    full_trials = _trials(url, by_window["full"])
    best = _best(full_trials)
    if best is None:
        raise PaiidError("no trial of the full-history study completed: widen the parameter ranges")
    final_params = tpl.validate_params({**fixed, **best.params})
    evaluated = _evaluated(full_trials)
    matrix = np.column_stack([
        _returns(bars, tpl.id, tpl.validate_params({**fixed, **t.params}))[SCORE_FROM:] for t in evaluated
    ])
    keep = dedupe_columns(matrix)
    matrix = matrix[:, keep]
    trial_sr = np.asarray(sharpe_ratio(matrix, axis=0))
    best_r = _returns(bars, tpl.id, final_params)[SCORE_FROM:]
    dsr = deflated_sharpe_ratio(best_r, n_trials=len(evaluated), trial_sharpes=trial_sr)
    pbo = (probability_of_backtest_overfitting(matrix, cscv_blocks)
           if matrix.shape[1] >= 2 and matrix.shape[0] >= 2 * cscv_blocks else None)
    def_r = _returns(bars, tpl.id, defaults)[SCORE_FROM:]
    oos_psr = probabilistic_sharpe_ratio(
        float(sharpe_ratio(r_opt)), len(r_opt),
        **_moments(r_opt),
    )
    oos = {
        "optimized": _annual(sharpe_ratio(r_opt), bpy),
        "default": _annual(sharpe_ratio(r_def), bpy),
        "buy_and_hold": _annual(sharpe_ratio(r_bh), bpy),
    }
    report = {
        "symbol": normalise_symbol(symbol),
        "strategy_id": tpl.id,
        "family": tpl.family,
        "created": pd.Timestamp.now(tz="UTC").isoformat(),
        "data": {"first": bars.index[0], "last": bars.index[-1], "bars": n, "bars_per_year": bpy},
        "settings": {
            "trials": n_trials, "splits": len(splits), "min_train": min_train, "seed": seed,
            "searched": {k: {"min": lo, "max": hi, "type": kind} for k, (lo, hi, kind) in ranges.items()},
            "fixed": fixed, "sampler": "TPE (multivariate, seeded)", "pruner": "median",
            "objective": "annualised Sharpe ratio of in-sample bars after the warm-up (costs included)",
            "workers_per_study": workers_per_study, "storage": _redact(url), "run_id": run_id,
        },
        "best_params": final_params,
        "default_params": defaults,
        "walk_forward": {
            "windows": report_windows,
            "oos_sharpe": oos,
            "oos_total_return": {"optimized": _total(r_opt), "default": _total(r_def),
                                 "buy_and_hold": _total(r_bh)},
            "oos_bars": len(r_opt),
            "oos_psr": oos_psr,
            "beats_default": oos["optimized"] > oos["default"],
            "beats_buy_and_hold": oos["optimized"] > oos["buy_and_hold"],
        },
        "in_sample": {
            "best_sharpe": float(best.value),
            "default_sharpe": _annual(sharpe_ratio(def_r), bpy),
            "trials": _counts(full_trials),
            "distinct_configs": int(matrix.shape[1]),
        },
        "deflated_sharpe": {**dsr.as_dict(), "sharpe_annualised": _annual(dsr.sharpe, bpy),
                            "expected_max_sharpe_annualised": _annual(dsr.expected_max_sharpe, bpy)},
        "pbo": pbo.as_dict() if pbo is not None else None,
        "elapsed_s": elapsed,
    }
    report["verdict"] = verdict(report)
    if save:
        save_result(report)
    return to_jsonable(report)


def _moments(r: np.ndarray) -> dict[str, float]:
    from scipy import stats

    if len(r) < 3 or not r.std() > 0:
        return {"skew": 0.0, "kurtosis": 3.0}
    return {"skew": float(stats.skew(r)), "kurtosis": float(stats.kurtosis(r, fisher=False))}


def _redact(url: str) -> str:
    """Storage URL without a password (reports get shared)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def verdict(report: Mapping[str, Any]) -> str:
    """One sentence a user can act on: is the optimised edge real, luck, or not there?"""
    dsr = report["deflated_sharpe"]["dsr"]
    pbo = (report.get("pbo") or {}).get("pbo")
    wf = report["walk_forward"]
    parts = []
    if dsr > 0.95 and (pbo is None or pbo < 0.2) and wf["beats_default"]:
        parts.append("the optimised parameters show skill beyond what the search alone explains")
    elif dsr <= 0.95 and (pbo is None or pbo >= 0.3):
        parts.append("no evidence of skill: the in-sample gain is what trying this many parameter sets "
                     "gives by luck")
    else:
        parts.append("mixed evidence: treat the optimised parameters with caution")
    parts.append(f"deflated Sharpe {dsr:.2f}")
    if pbo is not None:
        parts.append(f"PBO {pbo:.2f}")
    parts.append(f"walk-forward OOS Sharpe {wf['oos_sharpe']['optimized']:.2f} vs default "
                 f"{wf['oos_sharpe']['default']:.2f} and buy-and-hold {wf['oos_sharpe']['buy_and_hold']:.2f}")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------ stored results


def results_dir() -> Path:
    path = config.home() / "optimize"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _result_path(symbol: str, strategy_id: str) -> Path:
    tpl = get_strategy(strategy_id)
    sym = normalise_symbol(symbol).replace("/", "_")
    return results_dir() / sym / f"{tpl.id}.json"


def save_result(report: Mapping[str, Any]) -> Path:
    """Write the report atomically (a reader never sees half a file)."""
    path = _result_path(report["symbol"], report["strategy_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(to_jsonable(report), indent=2, allow_nan=False))
    os.replace(tmp, path)
    return path


def load_result(symbol: str, strategy_id: str) -> dict[str, Any] | None:
    """The stored report of the last optimisation of this pair, or None."""
    path = _result_path(symbol, strategy_id)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"stored optimisation {path} is unreadable ({exc}); re-run `paiid optimize`") from None


def best_params(symbol: str, strategy_id: str, *, require_skill: bool = False) -> dict[str, Any] | None:
    """Optimised parameters of `strategy_id` on `symbol` from the last `paiid optimize`, or None.

    With `require_skill`, parameters are only returned when the optimisation passed its own checks
    (deflated Sharpe > 0.95 and PBO < 0.5); otherwise the caller should keep the defaults.
    """
    rep = load_result(symbol, strategy_id)
    if rep is None:
        return None
    if require_skill:
        pbo = (rep.get("pbo") or {}).get("pbo", 0.0)
        if not (rep["deflated_sharpe"]["dsr"] > 0.95 and pbo < 0.5):
            return None
    return dict(rep["best_params"])


def list_results() -> list[dict[str, Any]]:
    """Every stored optimisation: symbol, strategy, when, and its headline numbers."""
    out = []
    for path in sorted(results_dir().glob("*/*.json")):
        try:
            rep = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        out.append({
            "symbol": rep["symbol"], "strategy_id": rep["strategy_id"], "created": rep["created"],
            "best_params": rep["best_params"], "dsr": rep["deflated_sharpe"]["dsr"],
            "pbo": (rep.get("pbo") or {}).get("pbo"),
            "oos_sharpe": rep["walk_forward"]["oos_sharpe"]["optimized"],
        })
    return out

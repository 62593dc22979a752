"""One way to fan work out: local processes by default, a Dask cluster when given a scheduler.

Universe backtests, optimisation windows and other embarrassingly parallel work call
`map(fn, items)`. The same call runs

* in this process when there is one item or `workers=1` (no pickling, easiest to debug),
* on a `concurrent.futures.ProcessPoolExecutor` of local processes (the default), or
* on a Dask cluster when `scheduler="tcp://host:8786"` is passed or `PAIID_DASK_SCHEDULER` is set.

Results come back in input order whatever order tasks finish in, and nothing here adds randomness,
so a deterministic `fn` gives identical results on every back end; that is what lets a run be
checked on a laptop and then scaled out. `fn` must be a module-level function and items must be
picklable. Errors raised by `fn` are pickled back and re-raised by the futures as themselves, so
the CLI/API still map paiid's errors to exit codes and statuses (`paiid.errors` keeps them picklable).
The caller's paiid settings (`_FORWARDED_ENV`: home, database, Optuna storage, refit calendar) travel
with every task on every back end, so a worker never answers from a database of its own.
"""

from __future__ import annotations

import atexit
import functools
import multiprocessing as mp
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from paiid import config
from paiid.errors import BadInput
from paiid.progress import track

T = TypeVar("T")
R = TypeVar("R")

#: Environment variables a worker needs to see the same state as the caller: where the bars, models,
#: prediction log and Optuna trials live, and which refit calendar picks the models of an answer.
#: They travel with every task, to local processes and to Dask workers alike (see `_run_dask`).
_FORWARDED_ENV = ("PAIID_HOME", "PAIID_DATABASE_URL", "PAIID_OPTUNA_STORAGE", "PAIID_REFIT_EVERY",
                  "PAIID_QUIET", "PAIID_DEBUG")


def _call_chunk(fn: Callable[[Any], Any], chunk: list[Any]) -> list[Any]:
    return [fn(item) for item in chunk]


def _init_worker(env: dict[str, str | None], path: list[str]) -> None:
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    for p in path:
        if p not in sys.path:
            sys.path.append(p)


def _env_snapshot() -> dict[str, str | None]:
    return {k: os.environ.get(k) for k in _FORWARDED_ENV}


def _dask_env() -> dict[str, str | None]:
    """The caller's settings for a Dask task, with PAIID_HOME spelled out.

    An unset PAIID_HOME means `~/.paiid` of whoever reads it: on a worker started by another user or
    on another machine that is another home, hence another SQLite database and model folder. The
    resolved path names the caller's; on a real cluster it is a shared folder mounted at the same path.
    """
    env = _env_snapshot()
    env["PAIID_HOME"] = str(config.settings().home.expanduser().resolve())
    return env


def _call_with_env(fn: Callable[[Any], Any], env: dict[str, str | None], item: Any) -> Any:
    """Run `fn(item)` on a Dask worker under the caller's settings (module level: it is pickled).

    Why not the worker's own environment: a `dask worker` is a long-lived process started once, by
    whoever started it, and serves every client; left to itself it reads the database and models of
    its own PAIID_HOME / PAIID_DATABASE_URL, so a task would silently answer from another database
    (the local pool gets the same variables through its initializer). `config.settings()` is re-read
    when the environment changes and the model caches are keyed by home, so the next task of another
    caller sees its own settings. Threads of one worker share `os.environ`: a worker that serves
    callers with different settings at the same moment needs `--nthreads 1` (as recommended anyway for
    this CPU-bound work).
    """
    _init_worker(env, [])
    return fn(item)


def resolve_scheduler(scheduler: str | None) -> str | None:
    """`scheduler`, else `PAIID_DASK_SCHEDULER`, else None (local processes)."""
    value = scheduler or config.settings().dask_scheduler
    if value and value.strip().lower() in {"local", "processes"}:
        return None
    return value.strip() if value else None


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def _run_serial(fn: Callable[[T], R], items: Sequence[T], desc: str) -> list[R]:
    return [fn(item) for item in track(items, desc)]


_POOL: tuple[tuple, ProcessPoolExecutor] | None = None


def _pool(workers: int) -> ProcessPoolExecutor:
    """A warm pool of `workers` processes, reused while the caller's settings stay the same.

    Starting processes and importing numpy/pandas/TA-Lib in them costs about a second on a busy
    machine, more than many whole jobs, so one pool lives for the rest of the process. forkserver:
    workers fork from a small clean server (fast, no inherited threads); the environment and
    sys.path are passed explicitly because the server may predate the caller's settings.
    """
    global _POOL
    key = (workers, tuple(sorted((k, v or "") for k, v in _env_snapshot().items())), tuple(sys.path))
    if _POOL is not None and _POOL[0] == key:
        return _POOL[1]
    _drop_pool()
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=mp.get_context(method),
        initializer=_init_worker, initargs=(_env_snapshot(), list(sys.path)),
    )
    _POOL = (key, pool)
    return pool


def _drop_pool() -> None:
    global _POOL
    if _POOL is not None:
        _POOL[1].shutdown(wait=False, cancel_futures=True)
        _POOL = None


atexit.register(_drop_pool)


def shutdown() -> None:
    """Stop the warm local pool (tests and long-lived servers call this to free the processes)."""
    _drop_pool()


def _run_processes(fn: Callable[[T], R], items: Sequence[T], workers: int, desc: str) -> list[R]:
    # Several items per task amortise pickling; enough tasks per worker keep the load balanced.
    size = max(1, len(items) // (workers * 4))
    chunks = [list(items[i:i + size]) for i in range(0, len(items), size)]
    pool = _pool(workers)
    results: list[list[R]] = [[] for _ in chunks]
    futures = {pool.submit(_call_chunk, fn, chunk): i for i, chunk in enumerate(chunks)}
    try:
        for fut in track(_as_completed(set(futures)), desc, total=len(chunks)):
            results[futures[fut]] = fut.result()  # re-raises the first error to arrive
    except (BrokenExecutor, KeyboardInterrupt):
        _drop_pool()  # a broken or interrupted pool is not reused
        raise
    finally:
        for fut in futures:
            fut.cancel()
    return [value for chunk_result in results for value in chunk_result]


def _as_completed(pending: set) -> Iterator:
    """Futures in completion order (a generator, so the progress bar advances as they finish)."""
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from done


#: How long to try reaching a Dask scheduler before telling the user it is not there.
CONNECT_TIMEOUT = "20s"


def _connect(address: str) -> Any:
    from distributed import Client

    try:
        return Client(address, set_as_default=False, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BadInput(
            f"cannot reach the Dask scheduler at {address!r} ({type(exc).__name__}: {exc}); start one "
            "(`dask scheduler` and `dask worker ADDRESS`) or drop --scheduler / PAIID_DASK_SCHEDULER "
            "to use local processes"
        ) from None


def _run_dask(fn: Callable[[T], R], items: Sequence[T], address: str, desc: str) -> list[R]:
    from distributed import as_completed

    results: list[Any] = [None] * len(items)
    task = functools.partial(_call_with_env, fn, _dask_env())
    with _connect(address) as client:
        # key: the function's name plus a random token (pure=False), so the dashboard shows what runs.
        futures = client.map(task, list(items), pure=False, key=getattr(fn, "__name__", "paiid-task"))
        position = {f.key: i for i, f in enumerate(futures)}
        # An error leaves the `with`: closing the client releases its futures, so the rest is cancelled.
        for fut in track(as_completed(futures, loop=client.loop), desc, total=len(items)):
            results[position[fut.key]] = fut.result()  # re-raises the worker's error as itself
    return results


def map(  # noqa: A001 - mirrors the builtin on purpose
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    desc: str = "working",
) -> list[R]:
    """`[fn(x) for x in items]`, fanned out; results in input order.

    `scheduler`: a Dask scheduler address (default `PAIID_DASK_SCHEDULER`; "local" forces local
    processes). `workers`: local process count (default: CPU count); 1 runs in this process.
    """
    items = list(items)
    address = resolve_scheduler(scheduler)
    if address:
        return _run_dask(fn, items, address, desc)
    n = workers if workers is not None else default_workers()
    if n < 1:
        raise ValueError("workers must be >= 1")
    if n == 1 or len(items) <= 1:
        return _run_serial(fn, items, desc)
    return _run_processes(fn, items, n, desc)


def describe(scheduler: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """Where `map` would run, for reports."""
    address = resolve_scheduler(scheduler)
    if address:
        return {"backend": "dask", "scheduler": address}
    n = workers if workers is not None else default_workers()
    return {"backend": "serial" if n == 1 else "processes", "workers": n}




# ------------------------------------------------------------------------------ universe backtests

#: Symbols per task. Fixed (not derived from the worker count) because the engine simulates a batch as
#: one concatenated array, and float sums over a different batch could differ in the last bit: with
#: a fixed batch every back end and worker count gives bit-for-bit the same rows.
UNIVERSE_BATCH = 8

#: (symbols, their bars or [], loader or None, strategy ids, params by strategy, costs)
_Batch = tuple[list[str], list[Any], Callable[[str], Any] | None, list[str], dict | None, dict[str, float]]


def _backtest_batch(task: _Batch) -> list[dict]:
    """Every template on a batch of symbols (one vectorised simulation per template for the batch).

    The batch carries either the bars or, with a `loader`, only the names: the worker then loads the
    bars itself (from the shared database, a file store, a generator), so nothing big is shipped.
    """
    from paiid.backtest import run_universe

    names, bars, loader, strategies, params, costs = task
    if loader is not None:
        bars = [loader(name) for name in names]
    frame = run_universe(dict(zip(names, bars, strict=True)), strategies, params, **costs)
    return frame.to_dict("records")


def backtest_universe(
    universe: Mapping[str, Any] | Sequence[str],
    strategies: Sequence[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    loader: Callable[[str], Any] | None = None,
    commission_bps: float | None = None,
    slippage_bps: float | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    batch: int = UNIVERSE_BATCH,
) -> list[dict[str, Any]]:
    """Backtest every template on every symbol through `map`; one row per (symbol, strategy).

    `universe` is `{symbol: bars}` (bars are shipped to the workers) or a list of symbols that each
    worker loads with `loader` (a module-level function, default `paiid.data.load_bars`, which reads
    the bundled data and the shared database). Rows come back ordered by symbol (input order), then
    strategy, identical on every back end.
    """
    from paiid.backtest import DEFAULT_COMMISSION_BPS, DEFAULT_SLIPPAGE_BPS, STRATEGIES

    ids = list(strategies or STRATEGIES)
    if isinstance(universe, Mapping):
        syms = list(universe)
        shipped: list[Any] | None = [universe[s] for s in syms]
        loader = None
    else:
        syms = list(universe)
        shipped = None
        if loader is None:
            from paiid.data import load_bars as loader
    costs = {
        "commission_bps": DEFAULT_COMMISSION_BPS if commission_bps is None else commission_bps,
        "slippage_bps": DEFAULT_SLIPPAGE_BPS if slippage_bps is None else slippage_bps,
    }
    tasks = [
        (syms[i:i + batch], shipped[i:i + batch] if shipped is not None else [], loader, ids,
         dict(params) if params else None, costs)
        for i in range(0, len(syms), max(1, batch))
    ]
    out = map(_backtest_batch, tasks, scheduler=scheduler, workers=workers,
              desc=f"backtesting {len(ids)} templates x {len(syms)} symbols")
    rows = [row for chunk in out for row in chunk]
    order = {s: i for i, s in enumerate(syms)}
    rank = {sid: i for i, sid in enumerate(ids)}
    rows.sort(key=lambda r: (order[r["symbol"]], rank[r["strategy_id"]]))
    return rows


# -------------------------------------------------------------------------------- dataset building


def _context_task(task: tuple[str, Any, Any]) -> Any:
    from paiid.ml.context import build_context

    symbol, bars, regime_model = task
    return build_context(symbol, bars, regime_model)


def build_contexts(
    bars_by_symbol: Mapping[str, Any], regime_model: Any = None, *, scheduler: str | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """`paiid.ml.context.build_context` for every symbol through `map` (features, one backtest per
    template and the regime per symbol: the expensive, independent part of building the selector and
    trade-probability datasets). Pass the result as `contexts=` to `build_dataset` /
    `build_trade_dataset`."""
    syms = list(bars_by_symbol)
    out = map(_context_task, [(s, bars_by_symbol[s], regime_model) for s in syms], scheduler=scheduler,
              workers=workers, desc=f"building datasets for {len(syms)} symbols")
    return dict(zip(syms, out, strict=True))


__all__ = [
    "backtest_universe", "build_contexts", "default_workers", "describe", "map", "resolve_scheduler",
    "shutdown",
]

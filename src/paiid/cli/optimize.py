"""`paiid optimize SYM --strategy ID`: walk-forward parameter search with its luck measured.

The command is thin: it loads the bars, hands the studies to the engine's executor (local processes,
or a Dask cluster with `--scheduler`) and prints the report of `paiid.ml.optimize.optimize`, which
puts the optimised walk-forward Sharpe beside the defaults and buy-and-hold, and the deflated Sharpe
and PBO (median and range over block partitions) beside the in-sample winner, with the trials counted
and the summary sentences. `paiid optimize --list` shows what is stored.
"""

from __future__ import annotations

import functools
from typing import Any

import typer

from paiid.cli.common import JsonOpt, command, console, emit, parse_params, table
from paiid.errors import BadInput


def _parse_ranges(pairs: list[str] | None) -> dict[str, tuple[float, float]]:
    """`--range fast=5:30` pairs into bounds."""
    out: dict[str, tuple[float, float]] = {}
    for pair in pairs or []:
        name, sep, span = pair.partition("=")
        lo, sep2, hi = span.partition(":")
        try:
            if not (sep and sep2 and name.strip()):
                raise ValueError
            out[name.strip()] = (float(lo), float(hi))
        except ValueError:
            raise BadInput(f"bad --range {pair!r}: use name=low:high, e.g. fast=5:30") from None
    return out


def _execution(bars: Any) -> tuple[str, str]:
    """(execution model, its description) the optimiser's backtests ran: close-only series run the
    backtests' close-only variant, so the report says so beside the numbers it explains."""
    from paiid.backtest.engine import CLOSE_ONLY_MODEL, EXECUTION, OHLCV_MODEL
    from paiid.backtest.strategies import is_close_only

    model = CLOSE_ONLY_MODEL if is_close_only(bars) else OHLCV_MODEL
    return model, EXECUTION[model]


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _render(r: dict[str, Any]) -> None:
    wf = r["walk_forward"]
    searched = r["settings"]["searched"]
    console.print(f"[bold]{r['symbol']} {r['strategy_id']}[/bold]  {r['data']['first'][:10]}.."
                  f"{r['data']['last'][:10]} ({r['data']['bars']} bars), {r['settings']['trials']} trials "
                  f"per window, seed {r['settings']['seed']}")
    table("walk-forward windows (parameters chosen in-sample, scored on the next window)", [
        {"window": w["window"], "test": f"{w['test']['start'][:10]}..{w['test']['end'][:10]}",
         "best " + "/".join(searched): "/".join(_short(w["best_params"][k]) for k in searched),
         "is_sharpe": w["in_sample_sharpe"], "oos_opt": w["oos_sharpe"]["optimized"],
         "oos_default": w["oos_sharpe"]["default"], "oos_bh": w["oos_sharpe"]["buy_and_hold"]}
        for w in wf["windows"]
    ])
    table("out-of-sample, all windows stitched", [
        {"": k, "sharpe": wf["oos_sharpe"][k], "total_return": wf["oos_total_return"][k]}
        for k in ("optimized", "default", "buy_and_hold")
    ])
    diff = wf.get("optimized_minus_default") or {}
    ci = diff.get("ci95")
    console.print(f"optimised minus default OOS Sharpe: {_short(diff.get('estimate'))}"
                  + (f" (95% CI {ci[0]:.2f} to {ci[1]:.2f}, p = {diff['p_value']:.3f})" if ci else ""))
    d, p = r["deflated_sharpe"], r.get("pbo") or {}
    tc = r.get("trials_counted") or {"total": d["n_trials"]}
    this = sum((tc.get("this_run") or {}).values())
    pr = p.get("pbo_range")
    table("full-history search: how much is luck", [
        {"measure": "best in-sample Sharpe (annualised)", "value": r["in_sample"]["best_sharpe"]},
        {"measure": "default-params in-sample Sharpe", "value": r["in_sample"]["default_sharpe"]},
        {"measure": "Sharpe expected from luck alone (SR0)", "value": d["expected_max_sharpe_annualised"]},
        {"measure": "deflated Sharpe ratio, P(true SR > SR0)", "value": d["dsr"]},
        {"measure": "deflated Sharpe with normal moments", "value": d["dsr_normal"]},
        {"measure": "winner's trades / active bars (min 30 / 100)",
         "value": f"{d.get('n_trades')} / {d['active_bars']}"},
        {"measure": "DSR judgement", "value": d["judgement"]},
        {"measure": "probability of backtest overfitting (CSCV, median)", "value": p.get("pbo")},
        {"measure": "PBO range over block partitions",
         "value": f"{pr[0]:.2f}..{pr[1]:.2f} ({len(p['pbo_runs'])} partitions)" if pr else None},
        {"measure": "trials counted (this run + earlier/other templates)",
         "value": f"{tc['total']} ({this} + {tc['total'] - this})"},
        {"measure": "distinct parameter sets (full-history study)",
         "value": r["in_sample"]["distinct_configs"]},
    ])
    console.print("best parameters: " + ", ".join(f"{k}={v}" for k, v in r["best_params"].items()))
    if r.get("execution_model") == "close-only":
        console.print(f"note: {r['symbol']} is a close-only series: every backtest ran the close-only "
                      "variant (filled at the next close, stops and channels on closes)", soft_wrap=True)
    console.print(f"verdict: {r['verdict']}")
    for line in r.get("summary") or []:
        console.print(f"- {line}")


@command
def optimize(
    symbol: str | None = typer.Argument(None, help="Symbol to optimise on (SPX, GOOG, EURUSD or imported)."),
    strategy: str | None = typer.Option(None, "--strategy", "-s", help="Template id to optimise."),
    trials: int = typer.Option(50, "--trials", "-n", help="Optuna trials per walk-forward window."),
    splits: int = typer.Option(4, "--splits", help="Walk-forward out-of-sample windows."),
    seed: int = typer.Option(0, "--seed", help="Sampler seed (same seed, same result)."),
    start: str | None = typer.Option(None, "--start", help="First date (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, "--end", help="Last date (YYYY-MM-DD)."),
    param: list[str] | None = typer.Option(None, "--param", "-p", help="Pin a parameter: name=value."),
    search: list[str] | None = typer.Option(None, "--search", help="Search only this parameter (repeat)."),
    ranges: list[str] | None = typer.Option(None, "--range", help="Narrow a range: name=low:high (repeat)."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask scheduler address (default: PAIID_DASK_SCHEDULER or local processes)."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Local worker processes (default: CPUs)."),
    workers_per_study: int = typer.Option(
        1, "--workers-per-study",
        help="Workers cooperating on each study through the shared Optuna storage (>1 is faster but not "
        "bit-for-bit reproducible).",
    ),
    batch_size: int = typer.Option(
        1, "--batch-size",
        help="Trials asked and backtested in one sweep after the random start-up trials (1 keeps the "
        "sequential trial sequence; more is faster, reproducible for a seed, but another sequence).",
    ),
    group: str | None = typer.Option(
        None, "--group",
        help="Name a search across symbols: the trials of every run in the group count in each other's "
        "deflated Sharpe.",
    ),
    list_: bool = typer.Option(False, "--list", help="List stored optimisation results instead."),
    as_json: bool = JsonOpt,
) -> None:
    """Walk-forward optimise a template's parameters; report deflated Sharpe and PBO beside baselines."""
    from paiid.ml import optimize as opt

    if list_:
        rows = opt.list_results()
        emit({"results": rows}, as_json, lambda p: table("stored optimisations", p["results"]))
        return
    if not symbol or not strategy:
        raise BadInput("give a symbol and --strategy ID (or --list)")
    from paiid.data import load_bars
    from paiid.engine import executor

    # A close-only series is optimised on the backtests' close-only variant (`paiid.backtest.engine`):
    # every trial goes through `run_backtest`, which detects the series itself.
    bars = load_bars(symbol, start, end)
    mapper = functools.partial(executor.map, scheduler=scheduler, workers=workers)
    report = opt.optimize(
        bars, strategy, symbol=symbol, n_trials=trials, n_splits=splits, seed=seed,
        space=search or None, fixed=parse_params(param), bounds=_parse_ranges(ranges), mapper=mapper,
        workers_per_study=workers_per_study, batch_size=batch_size, group=group,
    )
    report["executor"] = executor.describe(scheduler, workers)
    report["execution_model"], report["execution"] = _execution(bars)
    emit(report, as_json, _render)


def register(root: typer.Typer) -> None:
    """Add `paiid optimize` to the root app."""
    root.command("optimize")(optimize)

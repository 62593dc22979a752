"""What an optimisation report means in words: the one-line verdict and the `summary` sentences.

The verdict calls the optimised parameters skilful only when every check agrees: the full-history
winner traded enough to be judged, its deflated Sharpe is significant with observed and with normal
moments after every trial of the search, the median PBO is low, and re-optimising before each
walk-forward window beat the defaults on the same out-of-sample bars with a bootstrap p-value under
0.05. The summary says, check by check, what is and is not significant, so a reader does not have to
know which number to look at.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paiid.ml.overfitting import DSR_BAR, MIN_ACTIVE_BARS, MIN_TRADES

#: PBO below this: the in-sample ranking persists; at or above `PBO_HIGH`: no better than chance.
PBO_LOW = 0.2
PBO_HIGH = 0.3
#: The one sentence about how the results are used (Option A of issue 14: nothing reads them).
USE_NOTE = ("The optimised parameters are reported for inspection only: backtests, recommendations and the "
            "strategy selector use the template defaults.")


def _beats(diff: Mapping[str, Any] | None) -> bool:
    return bool(diff and diff.get("p_value") is not None and diff["p_value"] < 0.05 and diff["estimate"] > 0)


def verdict(report: Mapping[str, Any]) -> str:
    """One sentence a user can act on: is the optimised edge real, luck, or not there?"""
    d = report["deflated_sharpe"]
    pbo = (report.get("pbo") or {}).get("pbo")
    wf = report["walk_forward"]
    parts = []
    if not d["enough_activity"]:
        parts.append(f"too few trades to judge: the full-history winner has {_trades(d)} and "
                     f"{d['active_bars']} active bars (needs {MIN_TRADES} and {MIN_ACTIVE_BARS})")
    elif d["significant"] and (pbo is None or pbo < PBO_LOW) and _beats(wf.get("optimized_minus_default")):
        parts.append("the optimised parameters show skill beyond what the search alone explains")
    elif not d["significant"] and (pbo is None or pbo >= PBO_HIGH):
        parts.append("no evidence of skill: the in-sample gain is what trying this many parameter sets "
                     "gives by luck")
    else:
        parts.append("mixed evidence: treat the optimised parameters with caution")
    parts.append(f"deflated Sharpe {d['dsr']:.2f} (normal moments {d['dsr_normal']:.2f}) after "
                 f"{d['n_trials']} trials")
    if pbo is not None:
        pr = report["pbo"]["pbo_range"]
        wide = ", wide spread" if report["pbo"].get("spread_wide") else ""
        parts.append(f"PBO {pbo:.2f} (range {pr[0]:.2f}-{pr[1]:.2f}{wide})")
    parts.append(f"walk-forward OOS Sharpe {wf['oos_sharpe']['optimized']:.2f} vs default "
                 f"{wf['oos_sharpe']['default']:.2f} and buy-and-hold {wf['oos_sharpe']['buy_and_hold']:.2f}")
    return "; ".join(parts)


def _trades(d: Mapping[str, Any]) -> str:
    n = d.get("n_trades")
    return "an unknown number of trades" if n is None else f"{n} trade{'s' if n != 1 else ''}"


def _interval(diff: Mapping[str, Any]) -> str:
    ci, p = diff.get("ci95"), diff.get("p_value")
    if ci is None or p is None:
        return f"{diff['estimate']:.2f} (no interval: too few bars)"
    return f"{diff['estimate']:.2f} (95% CI {ci[0]:.2f} to {ci[1]:.2f}, p = {p:.3f})"


def summary(report: Mapping[str, Any]) -> list[str]:
    """Sentences saying what is and is not significant in `report`, one per check."""
    d = report["deflated_sharpe"]
    tc = report.get("trials_counted") or {"total": d["n_trials"]}
    out = []
    searched = f"after {tc['total']} trials counted"
    if "this_run" in tc:
        here = sum(tc["this_run"].values())
        searched += f" ({here} in this run, {tc['total'] - here} in earlier runs or other templates)"
    if not d["enough_activity"]:
        out.append(f"Too few trades to judge: the full-history winner has {_trades(d)} and "
                   f"{d['active_bars']} bars with a non-zero return (at least {MIN_TRADES} trades and "
                   f"{MIN_ACTIVE_BARS} active bars are needed), so its deflated Sharpe of {d['dsr']:.2f} "
                   "says nothing.")
    else:
        word = "significant" if d["significant"] else "not significant"
        out.append(f"The full-history winner's deflated Sharpe is {d['dsr']:.2f} ({d['dsr_normal']:.2f} with "
                   f"normal moments) {searched}: {word} (both must exceed {DSR_BAR}).")
    p = report.get("pbo")
    if p is None:
        out.append("No PBO: the search tried fewer than two distinct parameter sets.")
    else:
        m, (lo, hi) = p["pbo"], p["pbo_range"]
        if m < PBO_LOW:
            what = "low: the in-sample ranking of parameter sets persisted out of sample"
        elif m >= PBO_HIGH:
            what = "high: the in-sample winner lands below the out-of-sample median about as often as chance"
        else:
            what = "inconclusive"
        wide = "; the spread is wide, so one partition's value would have misled" if p["spread_wide"] else ""
        out.append(f"Probability of backtest overfitting {m:.2f} (median of {len(p['pbo_runs'])} block "
                   f"partitions, range {lo:.2f}-{hi:.2f}): {what}{wide}.")
    wf = report["walk_forward"]
    diff = wf.get("optimized_minus_default")
    if diff:
        word = "significant" if _beats(diff) else "not significant"
        out.append(f"Re-optimised before each of {len(wf['windows'])} out-of-sample windows, the parameters "
                   f"earned an OOS Sharpe of {wf['oos_sharpe']['optimized']:.2f} against "
                   f"{wf['oos_sharpe']['default']:.2f} for the defaults on the same bars: difference "
                   f"{_interval(diff)}, {word}.")
    bh = wf.get("optimized_minus_buy_and_hold")
    if bh:
        word = "significantly" if _beats(bh) else "not significantly"
        out.append(f"Against buy-and-hold ({wf['oos_sharpe']['buy_and_hold']:.2f}) the difference is "
                   f"{_interval(bh)}: {word} better.")
    out.append(USE_NOTE)
    return out

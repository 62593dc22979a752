"""The journal's part of the performance report: adoption, outcomes by what the user did, calibration.

* **Adoption rate** = entries that adopted the answer's top template / entries about answers that had
  one (recommendations and trade answers), each answer counted once (its latest, non-superseded
  entry), with a Wilson interval: overall, per top template, per regime the answer saw and per A/B group.
* **Outcomes** of ML-adopted trades (`adopt`), trades of another listed template (`adopt_other`),
  manual trades and passed advice (what it would have earned), each with its win rate (Wilson interval),
  mean return and per-trade Sharpe (circular block bootstrap, block = n / effective sample size of the
  returns in time order, because trades whose windows overlap are not independent). Returns are net of
  the backtester's default costs on both fills (`outcomes.COSTS`), so what adopted advice earned is what
  a user would have kept; wins are the trade model's barrier hits. Differences are tested with a
  two-proportion z-test (win rate) and Welch's t-test (mean return).
* **Calibration** of the win probability the answer showed, against the outcome of the very trade it
  was shown for (adopted or passed, on the answer's side).

Numbers from `paiid journal simulate` are marked `simulated: true`, and every sentence says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from paiid.backtest import DEFAULT_COMMISSION_BPS, DEFAULT_SLIPPAGE_BPS
from paiid.engine.journal.facts import ADVICE_KINDS
from paiid.engine.journal.outcomes import COSTS
from paiid.metrics import (
    block_bootstrap,
    brier,
    calibration_bins,
    effective_sample_size,
    sharpe,
    wilson_interval,
)
from paiid.ml.tradeprob.labels import HORIZON

ALPHA = 0.05
CALIBRATION_BINS = 10
#: Outcome groups: report key -> journal action.
GROUPS = {"adopted": "adopt", "adopted_other": "adopt_other", "manual": "manual", "passed": "pass"}


def _rate(k: int, n: int) -> dict[str, Any]:
    ci = wilson_interval(k, n)
    return {"rate": k / n if n else None, "ci": None if ci is None else list(ci), "n": n, "adopted": k}


def _adoption(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    advised = [r for r in rows if r["prediction"] is not None and r["prediction"].kind in ADVICE_KINDS]
    adopted = [r["action"] == "adopt" for r in advised]
    out = {**_rate(sum(adopted), len(advised)),
           "actions": {a: sum(r["action"] == a for r in advised) for a in GROUPS.values()}}
    for key, of in (("by_template", lambda r: r["advice"].template),
                    ("by_regime", lambda r: r["advice"].regime or "not logged"),
                    ("by_group", lambda r: r.get("ab_group") or "no group")):
        groups: dict[str, list[bool]] = {}
        for r, a in zip(advised, adopted, strict=True):
            groups.setdefault(str(of(r)), []).append(a)
        out[key] = {g: _rate(sum(v), len(v)) for g, v in sorted(groups.items())}
    return out


def _block(returns: np.ndarray) -> int:
    n = len(returns)
    if n < 3:
        return 1
    return int(max(1, round(n / max(effective_sample_size(returns), 1.0))))


def _group(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    done = sorted((r for r in rows if (r["outcome"] or {}).get("return") is not None),
                  key=lambda r: (r["outcome"]["decision_date"], r["id"]))
    ret = np.array([r["outcome"]["return"] for r in done], np.float64)
    wins = int(sum(bool(r["outcome"]["won"]) for r in done))
    n = len(done)
    ci = wilson_interval(wins, n)
    block = _block(ret)
    out: dict[str, Any] = {
        "entries": len(rows), "resolved": n, "open": len(rows) - n, "wins": wins,
        "win_rate": wins / n if n else None, "win_rate_ci": None if ci is None else list(ci),
        "mean_return": None, "sharpe_per_trade": None, "block": block,
    }
    if n:
        out["mean_return"] = block_bootstrap(lambda r: r.mean(axis=0), ret, block=block).as_dict()
        per_trade = block_bootstrap(lambda r: sharpe(r, 1.0, axis=0), ret, block=block)
        out["sharpe_per_trade"] = per_trade.as_dict()
    return out


def _returns(rows: Sequence[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    done = [r["outcome"] for r in rows if (r["outcome"] or {}).get("return") is not None]
    return (np.array([o["return"] for o in done], np.float64), np.array([o["won"] for o in done], np.float64))


def _difference(a_rows: Sequence[dict[str, Any]], b_rows: Sequence[dict[str, Any]], a: str,
                b: str) -> dict[str, Any]:
    """Win rate (two-proportion z-test) and mean return (Welch's t-test) of group a minus group b."""
    ra, wa = _returns(a_rows)
    rb, wb = _returns(b_rows)
    out: dict[str, Any] = {"a": a, "b": b, "n_a": len(ra), "n_b": len(rb), "alpha": ALPHA}
    if len(ra) < 2 or len(rb) < 2:
        out.update({"win_rate_p_value": None, "return_p_value": None, "significant": False,
                    "note": f"needs at least 2 resolved trades in each group ({a}: {len(ra)}, "
                            f"{b}: {len(rb)})"})
        return out
    pooled = (wa.sum() + wb.sum()) / (len(wa) + len(wb))
    se = math.sqrt(pooled * (1 - pooled) * (1 / len(wa) + 1 / len(wb)))
    diff = float(wa.mean() - wb.mean())
    p_win = float(2 * stats.norm.sf(abs(diff / se))) if se > 0 else 1.0
    if ra.std() > 0 or rb.std() > 0:
        p_ret = float(stats.ttest_ind(ra, rb, equal_var=False).pvalue)
    else:
        p_ret = 1.0
    out.update({
        "win_rate_difference": diff, "win_rate_test": "two-proportion z-test", "win_rate_p_value": p_win,
        "return_difference": float(ra.mean() - rb.mean()), "return_test": "Welch's t-test",
        "return_p_value": p_ret, "significant": bool(min(p_win, p_ret) < ALPHA),
    })
    return out


def _calibration(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    pairs = [(r["advice"].win_probability, float(r["outcome"]["won"])) for r in rows
             if r["action"] in ("adopt", "pass") and r["advice"] is not None
             and r["advice"].win_probability is not None and r.get("side") == r["advice"].side
             and (r["outcome"] or {}).get("return") is not None]
    p = np.array([x for x, _ in pairs], np.float64)
    y = np.array([v for _, v in pairs], np.float64)
    table = calibration_bins(y, p, np.linspace(0.0, 1.0, CALIBRATION_BINS + 1))
    out: dict[str, Any] = {
        "n": len(p), "brier": None, "baseline_brier": None, "mean_shown": None, "observed": None,
        "bins": [{"lo": b.lo, "hi": b.hi, "n": b.n, "mean_predicted": b.mean_predicted,
                  "realized_frequency": b.observed} for b in table if b.n],
        "basis": "win probability shown with the answer vs the outcome of the trade it was shown for "
                 "(adopted or passed, on the answer's side)",
    }
    if len(p):
        out.update({"brier": brier(y, p), "baseline_brier": brier(y, np.full(len(y), y.mean())),
                    "mean_shown": float(p.mean()), "observed": float(y.mean())})
    return out


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _ci(ci: Sequence[float] | None, pct: bool = True) -> str:
    if ci is None:
        return "no interval"
    return f"95% CI {_pct(ci[0])} to {_pct(ci[1])}" if pct else f"95% CI {ci[0]:+.3f} to {ci[1]:+.3f}"


def simulated_tag(sources: dict[str, int]) -> str:
    """How to label numbers that include the simulator's entries ("" when none do)."""
    sim, total = sources.get("simulated", 0), sum(sources.values())
    if not sim:
        return ""
    if sim == total:
        return "simulated user (paiid journal simulate), not real users"
    return f"includes {sim} simulated entries (paiid journal simulate) of {total}"


def _summary(rep: dict[str, Any]) -> list[str]:
    tag = simulated_tag(rep["sources"])
    tag = f"{tag[0].upper()}{tag[1:]}: " if tag else ""
    ad = rep["adoption"]
    lines = []
    if ad["n"]:
        lines.append(f"{tag}adoption rate {_pct(ad['rate'])} ({ad['adopted']} of {ad['n']} recommendations "
                     f"journalled adopted the top template; {_ci(ad['ci'])}).")
    else:
        lines.append(f"{tag}no recommendation has been journalled yet, so there is no adoption rate.")
    for key, g in rep["outcomes"]["groups"].items():
        if not g["entries"]:
            continue
        if not g["resolved"]:
            lines.append(f"{key}: {g['entries']} entries, none resolved yet (their barrier windows have not "
                         "arrived in the stored bars).")
            continue
        m, s = g["mean_return"], g["sharpe_per_trade"]
        lines.append(
            f"{key}: {g['resolved']} resolved trades ({g['open']} open), win rate {_pct(g['win_rate'])} "
            f"({_ci(g['win_rate_ci'])}), mean return {_pct(m['estimate'])} per trade net of costs "
            f"({_ci(m['ci95'])}), Sharpe per trade {s['estimate']:+.3f} ({_ci(s['ci95'], pct=False)})."
        )
    if any(g["resolved"] for g in rep["outcomes"]["groups"].values()):
        lines.append(f"returns are net of costs: {COSTS}; wins are the trade model's profit-barrier hits.")
    for d in rep["outcomes"]["differences"].values():
        if d["win_rate_p_value"] is None:
            lines.append(f"{d['a']} vs {d['b']}: no test yet ({d['note']}).")
            continue
        verdict = "significant" if d["significant"] else "not significant"
        lines.append(
            f"{d['a']} vs {d['b']}: win rate {100 * d['win_rate_difference']:+.1f} points (p = "
            f"{d['win_rate_p_value']:.2f}), mean return {100 * d['return_difference']:+.2f} points "
            f"(p = {d['return_p_value']:.2f}): {verdict} at the {ALPHA:g} level."
        )
    cal = rep["calibration"]
    if cal["n"]:
        lines.append(f"shown win probability: mean {_pct(cal['mean_shown'])} vs {_pct(cal['observed'])} "
                     f"won on {cal['n']} trades; Brier {cal['brier']:.3f} (always the observed rate: "
                     f"{cal['baseline_brier']:.3f}).")
    return lines


def journal_section(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The `journal` block of the performance report from resolved entries (`ledger.resolve_entries`)."""
    live = [r for r in rows if r["status"] != "superseded"]
    by_action = {key: [r for r in live if r["action"] == act] for key, act in GROUPS.items()}
    sources = {s: sum(r.get("source") == s for r in rows) for s in ("user", "simulated")}
    rep: dict[str, Any] = {
        "simulated": sources["simulated"] > 0,
        "sources": sources,
        "entries": len(rows),
        "superseded": len(rows) - len(live),
        "adoption": _adoption(live),
        "outcomes": {
            "groups": {k: _group(v) for k, v in by_action.items()},
            "differences": {
                f"adopted_vs_{b}": _difference(by_action["adopted"], by_action[b], "adopted", b)
                for b in ("manual", "passed")
            },
            "basis": "triple-barrier outcome of each trade as the trade model labels its events (fill at the "
                     "next open after the decision, the next close on a close-only series; stop/target at "
                     f"the journalled distances; {HORIZON}-bar time barrier); won/lost/timeout is the "
                     f"label's, returns are net of costs ({COSTS}); a pass is what the advice it passed on "
                     "would have earned, after the same costs; open trades are left out until their data "
                     "exists",
            "costs": {"commission_bps": DEFAULT_COMMISSION_BPS, "slippage_bps": DEFAULT_SLIPPAGE_BPS,
                      "per": "fill", "fills": 2, "returns": "net"},
        },
        "calibration": _calibration(live),
    }
    rep["summary"] = _summary(rep)
    return rep

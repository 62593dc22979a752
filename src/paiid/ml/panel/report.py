"""Scores of the panel selector's three models on the same rows, with intervals, and their sentences.

Accuracy against the majority class of each model's own training rows, block-bootstrapped over the
decision rows in date order (blocks of H bars' worth of rows, all symbols of those dates together);
Sharpe and net return of the daily equal-weight portfolio of the symbols following each model's
choices, against buy-and-hold and the best template chosen on the model's training rows (blocks of H
days); the pooled and held-out-symbol models minus the per-symbol models; and a per-symbol table.

Two questions the OHLCV selector's report asks are asked here too, with the same code:

* **the rotation null** (`paiid.ml.selector.significance.rotation_null`): the model's Sharpe against
  its own choices circularly shifted in time within each symbol (how often and how persistently it
  picks each template kept, only the timing broken), scored on the same daily portfolio, with a
  paired block-bootstrap CI of the margin and the rotation's one-sided p-value;
* **the stand-aside rule out of sample** (`paiid.ml.selector.edge`, verdicts from
  `selector.panel_predictions`): the share of test decisions the served answer would stand aside on,
  and the portfolio following the model but flat on those rows against always following it (Sharpe
  and worst drawdown, each difference with its CI).

Every interval is `paiid.metrics.block_bootstrap` (seeded).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from paiid.backtest.metrics import max_drawdown
from paiid.data.splits import embargo_rows
from paiid.errors import BadInput
from paiid.metrics import block_bootstrap, effective_sample_size, sharpe
from paiid.ml.selector.dataset import SelectorDataset
from paiid.ml.selector.significance import rotation_null, sharpe_margin
from paiid.ml.selector.summary import ci_text, p_text, rotation_verdict, verdict_text
from paiid.ml.selector.validation import bars_per_year_of, selection_returns

MODELS = ("pooled", "held_out_symbols", "per_symbol")
#: Shifts of the rotation null (the OHLCV selector uses `significance.ROTATIONS` = 200): each shift
#: re-runs `selection_returns` over the ~11,000 common test rows (about 0.15 s), so 200 shifts would
#: add ~100 s to the study for three models; 50 still resolve p-values down to 1/51 (about 0.02).
ROTATIONS = 50
MODEL_NOTES = {
    "pooled": "one model on every symbol's rows before each window (PurgedWalkForward)",
    "held_out_symbols": "one model per (window, group fold) trained on the other symbols only, before "
                        "the window (PurgedGroupWalkForward)",
    "per_symbol": "one model per (window, symbol) trained on that symbol's own rows before the window",
}


def _lift(hit: np.ndarray, base: np.ndarray, block: int, seed: int) -> dict[str, Any]:
    iv = block_bootstrap(lambda a, b: a.mean(axis=0) - b.mean(axis=0), hit, base, block=block, seed=seed)
    return {**iv.as_dict(), "ml": float(hit.mean()) if hit.size else None,
            "baseline": float(base.mean()) if base.size else None}


def _daily(ds: SelectorDataset, rows: np.ndarray, per_symbol: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Per-symbol bar returns (of `selection_returns` / buy-and-hold over the same bars) as columns of
    one frame indexed by date: the bars each symbol's decision rows cover."""
    cols = {}
    for sym, r in per_symbol.items():
        t = np.sort(ds.t_pos[rows[ds.symbol[rows] == sym]])
        ctx = ds.contexts[sym]
        end = min(t[-1] + ds.step, ctx.n - 1)
        cols[sym] = pd.Series(r, index=ctx.bars.index[t[0] + 1: end + 1])
    return pd.DataFrame(cols).sort_index()


def _buy_and_hold(ds: SelectorDataset, rows: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for sym in dict.fromkeys(ds.symbol[rows]):
        t = np.sort(ds.t_pos[rows[ds.symbol[rows] == sym]])
        ctx = ds.contexts[sym]
        out[sym] = ctx.asset_returns[t[0] + 1: min(t[-1] + ds.step, ctx.n - 1) + 1]
    return out


def _portfolio(ds: SelectorDataset, rows: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """Daily returns of the equal-weight portfolio of the symbols following `choice` (a template index
    per row of `rows`; `len(ds.templates)` = flat), the series every Sharpe here is taken of."""
    return _daily(ds, rows, selection_returns(ds, rows, choice)).mean(axis=1).to_numpy()


def _drawdowns(r: np.ndarray) -> np.ndarray:
    """Worst drawdown (<= 0) of the equity curve of each column of per-bar returns (bars x columns)."""
    return np.array([max_drawdown(np.cumprod(1.0 + c)) for c in np.asarray(r, np.float64).T])


def _stand_aside(ds: SelectorDataset, rows: np.ndarray, pred: np.ndarray, aside: np.ndarray,
                 ml_p: np.ndarray, bpy: float, seed: int) -> dict[str, Any]:
    """Following the model but flat where the stand-aside rule says so, against always following it."""
    sa_p = _portfolio(ds, rows, np.where(aside, len(ds.templates), pred))
    dd = block_bootstrap(lambda a, b: _drawdowns(a) - _drawdowns(b), sa_p, ml_p, block=ds.horizon, seed=seed)
    return {
        "rule": "flat when no template's forward return over the 50 most similar training-row decision "
                "dates clears zero by one standard error (paiid.ml.selector.edge, each model reading its "
                "own training rows, all resolved before the window)",
        "stood_aside_share": float(aside.mean()) if aside.size else 0.0,
        "sharpe": {"with_stand_aside": sharpe(sa_p, bpy, axis=0), "always_follow": sharpe(ml_p, bpy, axis=0)},
        "sharpe_difference": {**sharpe_margin(sa_p, ml_p, bpy, ds.horizon, seed),
                              "note": "with stand-aside minus always following the model"},
        "max_drawdown": {"with_stand_aside": float(_drawdowns(sa_p[:, None])[0]),
                         "always_follow": float(_drawdowns(ml_p[:, None])[0]),
                         "unit": "worst peak-to-trough fall of the daily equal-weight portfolio"},
        "max_drawdown_difference": {**dd.as_dict(), "note": "with stand-aside minus always following "
                                    "(both <= 0): > 0 means standing aside has the shallower worst drawdown; "
                                    "a resample cuts falls longer than its H-day blocks, so the interval "
                                    "is rough (resampled drawdowns run shallower than the path's)"},
        "net_return": {"with_stand_aside": float(np.prod(1 + sa_p) - 1),
                       "always_follow": float(np.prod(1 + ml_p) - 1)},
    }


def _model_scores(ds: SelectorDataset, rows: np.ndarray, p: Mapping[str, np.ndarray], bh: pd.DataFrame,
                  bpy: float, seed: int, preds_window: np.ndarray
                  ) -> tuple[dict[str, Any], pd.DataFrame, np.ndarray]:
    """One model's pooled scores on `rows`; its daily returns per symbol and its hits."""
    y = ds.y[rows]
    pred, maj, fixed = p["pred"][rows], p["majority"][rows], p["fixed_before"][rows]
    hit = (pred == y).astype(np.float64)
    row_block = ds.embargo_rows()
    ml = _daily(ds, rows, selection_returns(ds, rows, pred))
    fx = _daily(ds, rows, selection_returns(ds, rows, fixed))
    ml_p, fx_p, bh_p = (f.mean(axis=1).to_numpy() for f in (ml, fx, bh))
    outcome = ds.scores[rows, pred]
    scores = {
        "accuracy_lift": {**_lift(hit, (maj == y).astype(np.float64), row_block, seed),
                          "baseline_name": "majority class of the model's training rows",
                          "unit": "share of decisions (0.07 = 7 points)"},
        "sharpe": {"ml": sharpe(ml_p, bpy, axis=0), "buy_and_hold": sharpe(bh_p, bpy, axis=0),
                   "best_fixed_before": sharpe(fx_p, bpy, axis=0)},
        "net_return": {"ml": float(np.prod(1 + ml_p) - 1), "buy_and_hold": float(np.prod(1 + bh_p) - 1),
                       "best_fixed_before": float(np.prod(1 + fx_p) - 1),
                       "unit": "total return of the daily equal-weight portfolio over the test dates"},
        "sharpe_margins": {
            "buy_and_hold": sharpe_margin(ml_p, bh_p, bpy, ds.horizon, seed),
            "best_fixed_before": {**sharpe_margin(ml_p, fx_p, bpy, ds.horizon, seed),
                                  "note": "the template with the best Sharpe on the model's own "
                                          "training rows"},
            "rotation": {**rotation_null(ds, rows, pred, bpy, ROTATIONS, block=ds.horizon, seed=seed,
                                         series=lambda c: _portfolio(ds, rows, c)),
                         "note": "its own choices circularly shifted in time within each symbol; margin = "
                                 "ML minus the shifts' mean Sharpe, interval = paired block bootstrap, "
                                 "p_value = one-sided share of shifts at least as good"},
        },
        "stand_aside": _stand_aside(ds, rows, pred, p["stand_aside"][rows], ml_p, bpy, seed),
        "effective_decisions": {
            "rows": int(rows.size), "by_overlap": float(rows.size * ds.step / ds.horizon),
            "by_autocorrelation": effective_sample_size(outcome),
            "by_dates": float(np.unique(ds.t_date[rows]).size * ds.step / ds.horizon),
            "method": "value = the smallest of: rows x step / horizon (overlap of the label windows, symbols "
                      "independent), paiid.metrics.effective_sample_size of the chosen template's forward "
                      "score in date order, and distinct decision dates x step / horizon (every symbol "
                      "moving as one: the cross-section's correlation at its extreme)"},
    }
    eff = scores["effective_decisions"]
    eff["value"] = float(min(eff["by_overlap"], eff["by_autocorrelation"], eff["by_dates"]))
    w = preds_window[rows]
    scores["windows"] = [{"window": int(k), "rows": int((w == k).sum()),
                          "accuracy": float(hit[w == k].mean()),
                          "majority_baseline": float((maj == y)[w == k].mean()),
                          "stood_aside_share": float(p["stand_aside"][rows][w == k].mean())}
                         for k in np.unique(w)]
    return scores, ml, hit


def score(ds: SelectorDataset, preds: Mapping[str, Any], *, seed: int = 0) -> dict[str, Any]:
    """The three models on the same rows: pooled scores, their differences and the per-symbol table."""
    predicted = np.ones(len(ds), bool)
    for m in MODELS:
        predicted &= preds[m]["pred"] >= 0
    in_window = preds["window"] >= 0
    rows = np.flatnonzero(predicted)
    if rows.size < 2:
        raise BadInput("the panel is too short for a walk-forward evaluation of three models")
    excluded = np.flatnonzero(in_window & ~predicted)
    bpy = bars_per_year_of(ds)
    bh = _daily(ds, rows, _buy_and_hold(ds, rows))
    models, daily, hits = {}, {}, {}
    for m in MODELS:
        models[m], daily[m], hits[m] = _model_scores(ds, rows, preds[m], bh, bpy, seed,
                                                           preds["window"])
        models[m]["fits"] = len(preds[m]["fits"])
        models[m]["how"] = MODEL_NOTES[m]
    row_block = ds.embargo_rows()
    port = {m: daily[m].mean(axis=1).to_numpy() for m in MODELS}
    diffs = {}
    for a in ("pooled", "held_out_symbols"):
        diffs[f"{a}_minus_per_symbol"] = {
            "accuracy": _lift(hits[a], hits["per_symbol"], row_block, seed),
            "sharpe": sharpe_margin(port[a], port["per_symbol"], bpy, ds.horizon, seed),
        }
    one = embargo_rows(ds.horizon, 1, ds.step)
    y = ds.y[rows]
    table = []
    for sym in sorted(dict.fromkeys(ds.symbol[rows])):
        sel = ds.symbol[rows] == sym
        entry: dict[str, Any] = {"symbol": sym, "n_test": int(sel.sum()),
                                 "test_start": str(ds.t_date[rows[sel][0]])[:10],
                                 "test_end": str(ds.t_date[rows[sel][-1]])[:10],
                                 "buy_and_hold_sharpe": sharpe(bh[sym].dropna().to_numpy(), bpy, axis=0)}
        for m in MODELS:
            maj = (preds[m]["majority"][rows][sel] == y[sel]).astype(np.float64)
            both = daily[m][sym].notna() & bh[sym].notna()  # the symbol's own bars only
            r, b = daily[m][sym][both].to_numpy(), bh[sym][both].to_numpy()
            entry[m] = {"accuracy_lift": _lift(hits[m][sel], maj, one, seed),
                        "sharpe": sharpe(r, bpy, axis=0),
                        "sharpe_margin_buy_and_hold": sharpe_margin(r, b, bpy, ds.horizon, seed)}
        table.append(entry)
    names, counts = np.unique(ds.symbol[excluded].astype(str), return_counts=True)
    return {"rows": int(rows.size), "excluded_rows": int(excluded.size),
            "excluded_by_symbol": {str(s): int(c) for s, c in zip(names, counts, strict=True)},
            "test_start": str(ds.t_date[rows[0]])[:10], "test_end": str(ds.t_date[rows[-1]])[:10],
            "models": models, "differences": diffs, "per_symbol": table,
            "blocks": {"accuracy_rows": int(row_block), "per_symbol_accuracy_rows": int(one),
                       "sharpe_days": int(ds.horizon)}}


def _acc(iv: Mapping[str, Any]) -> str:
    return (f"{100 * iv['ml']:.1f}% vs {100 * iv['baseline']:.1f}%, lift {100 * iv['estimate']:+.1f} points, "
            f"{ci_text(iv, 100, 1)}, {p_text(iv)}, {verdict_text(iv)}")


def _signed(iv: Mapping[str, Any] | None, better: str, worse: str) -> str:
    """`better` / `worse` when the interval excludes 0 on that side, else "not significant"."""
    if not iv or not iv.get("significant"):
        return "not significant"
    return better if iv["estimate"] > 0 else worse


def _rotation_sentence(label: str, rot: Mapping[str, Any]) -> str:
    if rot.get("p_value") is None or not rot.get("interval"):
        return f"{label}: too few rows a symbol for the rotation null"
    iv = rot["interval"]
    return (f"{label}: Sharpe {rot['ml']:.2f} vs {rot['null_mean']:.2f} for its own choices rotated in time "
            f"({rot['shifts']} shifts): margin {rot['margin']:+.2f}, {ci_text(iv)}, rotation p = "
            f"{rot['p_value']:.3f}, {rotation_verdict(rot)[0]}")


def _stand_aside_sentence(label: str, sa: Mapping[str, Any]) -> str:
    d, dd = sa["sharpe_difference"], sa["max_drawdown_difference"]
    sh, mdd = sa["sharpe"], sa["max_drawdown"]
    return (f"{label}: the stand-aside rule would have stood aside on {100 * sa['stood_aside_share']:.0f}% "
            f"of test decisions; Sharpe {sh['with_stand_aside']:.2f} with it vs {sh['always_follow']:.2f} "
            f"always following the model (difference {d['estimate']:+.2f}, {ci_text(d)}, "
            f"{_signed(d, 'significantly better', 'significantly worse')}), worst drawdown "
            f"{100 * mdd['with_stand_aside']:.1f}% vs {100 * mdd['always_follow']:.1f}% "
            f"(difference {100 * dd['estimate']:+.1f} points, {ci_text(dd, 100, 1)}, "
            f"{_signed(dd, 'significantly shallower', 'significantly deeper')})")


def sentences(report: Mapping[str, Any]) -> list[str]:
    """Plain answers from the report's own numbers: does pooling help, is there skill on unseen symbols."""
    m, d = report["models"], report["differences"]
    out = [f"{report['rows']} test decisions ({report['test_start']} to {report['test_end']}) from "
           f"{len(report['per_symbol'])} symbols, worth between about "
           f"{m['pooled']['effective_decisions']['by_dates']:.0f} (symbols moving as one) and "
           f"{m['pooled']['effective_decisions']['by_overlap']:.0f} (independent symbols) independent "
           "decisions; the same rows for all "
           f"three models ({report['excluded_rows']} window rows left out: no per-symbol model yet)"]
    names = {"pooled": "pooled (held-out time)", "held_out_symbols": "held-out symbols",
             "per_symbol": "per-symbol models"}
    for k, label in names.items():
        s = m[k]
        bh, fx = s["sharpe_margins"]["buy_and_hold"], s["sharpe_margins"]["best_fixed_before"]
        out.append(f"{label}: accuracy {_acc(s['accuracy_lift'])}; Sharpe {s['sharpe']['ml']:.2f} vs "
                   f"buy-and-hold {s['sharpe']['buy_and_hold']:.2f} (margin {bh['estimate']:+.2f}, "
                   f"{ci_text(bh)}, {verdict_text(bh)}) and vs the best template chosen on its training rows "
                   f"{s['sharpe']['best_fixed_before']:.2f} (margin {fx['estimate']:+.2f}, {ci_text(fx)}, "
                   f"{verdict_text(fx)})")
    for k, label in names.items():
        out.append("rotation null, " + _rotation_sentence(label, m[k]["sharpe_margins"]["rotation"]))
    for k, label in names.items():
        out.append("stand-aside out of sample, " + _stand_aside_sentence(label, m[k]["stand_aside"]))
    pv = d["pooled_minus_per_symbol"]
    beats = pv["accuracy"]["significant"] and pv["accuracy"]["estimate"] > 0
    out.append(
        f"does pooling beat per-symbol models? accuracy difference {100 * pv['accuracy']['estimate']:+.1f} "
        f"points ({ci_text(pv['accuracy'], 100, 1)}, {p_text(pv['accuracy'])}), Sharpe difference "
        f"{pv['sharpe']['estimate']:+.2f} ({ci_text(pv['sharpe'])}, {p_text(pv['sharpe'])}): "
        + ("yes in accuracy, significantly" if beats else
           "no significant difference" if not pv["accuracy"]["significant"] else
           "no: per-symbol models are significantly more accurate")
        + (", and in Sharpe too" if beats and pv["sharpe"]["significant"] and pv["sharpe"]["estimate"] > 0
           else ", not in Sharpe (not significant)" if beats and not pv["sharpe"]["significant"] else "")
    )
    h = m["held_out_symbols"]
    margins = h["sharpe_margins"]
    checks = (("accuracy over the majority class", h["accuracy_lift"]),
              ("Sharpe over buy-and-hold", margins["buy_and_hold"]),
              ("Sharpe over the best template chosen before", margins["best_fixed_before"]))
    skill = [name for name, iv in checks if iv["significant"] and iv["estimate"] > 0]
    worse = [name for name, iv in checks if iv["significant"] and iv["estimate"] < 0]
    lacking = [name for name, iv in checks if not iv["significant"]]
    timing = "Sharpe over its own choices rotated in time"
    if margins["rotation"].get("interval"):
        adds = rotation_verdict(margins["rotation"])[1]
        (skill if adds else worse if adds is None else lacking).append(timing)
    out.append("skill on held-out symbols: " + (
        "significant in " + ", ".join(skill) if skill else "none significant")
        + ("; not significant: " + ", ".join(lacking) if lacking else "")
        + ("; significantly worse: " + ", ".join(worse) if worse else ""))
    n_sig = sum(1 for r in report["per_symbol"] if r["pooled"]["accuracy_lift"]["significant"]
                and r["pooled"]["accuracy_lift"]["estimate"] > 0)
    out.append(f"per symbol: the pooled model's accuracy lift is significantly positive for {n_sig} of "
               f"{len(report['per_symbol'])} symbols (about {0.025 * len(report['per_symbol']):.1f} expected "
               "by chance at the 2.5% one-sided level)")
    return out

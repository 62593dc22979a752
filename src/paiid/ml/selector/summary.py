"""The selector report in plain sentences: what is significant and what is not, computed from the numbers.

Why sentences: a reader of `paiid evaluate` sees "+0.07" and reads an edge; the sentence next to it says
"95% CI [-0.57, 0.65], not significant". Every sentence is built from the report's own keys, so it can
never say more than the numbers do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from paiid.metrics import sharpe


def verdict_text(iv: Mapping[str, Any]) -> str:
    return "significant" if iv.get("significant") else "not significant"


def ci_text(iv: Mapping[str, Any], scale: float = 1.0, digits: int = 2) -> str:
    ci = iv.get("ci95")
    if not ci:
        return "no interval (too few rows)"
    return f"95% CI [{scale * ci[0]:.{digits}f}, {scale * ci[1]:.{digits}f}]"


def p_text(iv: Mapping[str, Any]) -> str:
    p = iv.get("p_value")
    return "p n/a" if p is None else f"p = {p:.3f}"


def _margin(label: str, iv: Mapping[str, Any]) -> str:
    return (f"Sharpe margin over {label}: {iv['estimate']:+.2f}, {ci_text(iv)}, {p_text(iv)}, "
            f"{verdict_text(iv)}")


def _fold_sentence(report: Mapping[str, Any], series: Mapping[str, Any], bpy: float) -> str | None:
    """Which fold carries the margin over buy-and-hold, and what is left without it."""
    folds = report.get("folds") or []
    if len(folds) < 2 or "ml_sharpe" not in folds[0]:
        return None
    margins = [f["ml_sharpe"] - f["buy_and_hold_sharpe"] for f in folds]
    best = int(np.argmax(margins))
    keep = [i for i in range(len(folds)) if i != best]
    ml = np.concatenate([series["ml"][i] for i in keep])
    bh = np.concatenate([series["buy_and_hold"][i] for i in keep])
    rest = sharpe(ml, bpy, axis=0) - sharpe(bh, bpy, axis=0)
    f = folds[best]
    return (f"largest fold margin over buy-and-hold: {margins[best]:+.2f} in fold {f['fold']} "
            f"({f['test_start']} to {f['test_end']}); the other folds together: {rest:+.2f}")


def sentences(report: Mapping[str, Any], series: Mapping[str, Any] | None = None) -> list[str]:
    """Plain statements of the selector report `report` (the output of `summarize` + `significance`)."""
    out: list[str] = []
    lift = report.get("accuracy_lift")
    if lift:
        out.append(
            f"top-1 accuracy {100 * lift['ml']:.1f}% vs the majority class {100 * lift['majority']:.1f}%: "
            f"lift {100 * lift['estimate']:+.1f} points, {ci_text(lift, 100, 1)}, {p_text(lift)}, "
            f"{verdict_text(lift)}"
        )
    eff = report.get("effective_decisions")
    if eff:
        out.append(
            f"{eff['rows']} out-of-sample decision dates are worth about {eff['value']:.0f} independent "
            f"decisions ({eff['by_overlap']:.0f} by the overlap of their {report.get('horizon_bars')}-bar "
            f"windows, {eff['by_autocorrelation']:.0f} by the autocorrelation of their outcomes)"
        )
    m = report.get("sharpe_margins") or {}
    if "buy_and_hold" in m:
        out.append(_margin("buy-and-hold", m["buy_and_hold"]))
    if "best_fixed_before" in m:
        out.append(_margin("the best template chosen before each test window", m["best_fixed_before"]))
    if "best_fixed_hindsight" in m:
        out.append(_margin(f"the best template in hindsight ({m['best_fixed_hindsight']['template']}, "
                           "a reference no real choice could know)", m["best_fixed_hindsight"]))
    rot = m.get("rotation")
    if rot and rot.get("p_value") is not None and rot.get("interval"):
        out.append(
            f"ML Sharpe {rot['ml']:.2f} vs its own choices shifted in time against the outcomes "
            f"(mean {rot['null_mean']:.2f} over {rot['shifts']} shifts): margin {rot['margin']:+.2f}, "
            f"{ci_text(rot['interval'])}, rotation p = {rot['p_value']:.3f}, {rotation_verdict(rot)[0]}"
        )
    sa = report.get("stand_aside")
    if sa:
        d = sa["sharpe_difference"]
        dd = sa["max_drawdown"]
        out.append(
            f"stand-aside rule: flat on {100 * sa['stood_aside_share']:.0f}% of decisions; Sharpe "
            f"{sa['oos_sharpe']['with_stand_aside']:.2f} vs {sa['oos_sharpe']['without']:.2f} without "
            f"(difference {d['estimate']:+.2f}, {ci_text(d)}, {p_text(d)}, {verdict_text(d)}); "
            "worst drawdown "
            f"{100 * dd['with_stand_aside']['worst']:.0f}% vs {100 * dd['without']['worst']:.0f}%"
        )
    if series is not None:
        s = _fold_sentence(report, series, float(report.get("bars_per_year") or 252.0))
        if s:
            out.append(s)
    return out


def rotation_verdict(rot: Mapping[str, Any]) -> tuple[str, bool | None]:
    """The rotation null's wording and whether the timing adds value (None: significantly worse).

    Significant only when both the CI excludes 0 and the one-sided rotation p-value is below 0.05: the
    p-value alone cannot go below 1 / (1 + shifts) and ignores how uncertain the Sharpe itself is, so
    every selector (SPX's and the panel's) is judged by both, with the same words."""
    iv = rot.get("interval")
    if iv and iv.get("significant") and iv["estimate"] < 0:
        return "significantly worse than its own choices rotated in time", None
    if iv and iv.get("significant") and rot.get("significant"):
        return "significant: the timing of its choices adds value", True
    why = " (the CI spans 0)" if rot.get("significant") else ""
    return f"not significant{why}: no evidence that the timing of its choices adds value", False

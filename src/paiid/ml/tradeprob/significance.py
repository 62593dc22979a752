"""How much the trade model's out-of-sample scores say: intervals, p-values, effective event counts and
plain sentences, so that a Brier score a hair below its baseline is not read as skill.

Why a module of its own: the walk-forward folds (`validation`) produce numbers; this turns them into
what they support. Three traps it guards against, found on the bundled daily symbols:

* **A constant forecast has no AUC.** When a fold's blend weight is 0 its model serves the training
  base rate for every test event; pooled over folds, the "AUC" of those constants only compares the
  folds' base rates with their outcomes. `served_auc` leaves such folds out (and says so), and reports
  nothing when every fold is constant; the forest's own ranking (`auc_model`) is still shown.
* **Overlapping labels are not independent.** Entry events a few bars apart share most of their
  20-bar barrier window; every interval is a circular block bootstrap (`paiid.metrics.block_bootstrap`,
  blocks of about one label horizon's worth of events), and `effective_events` says how many
  independent outcomes the test events are worth.
* **Skill needs an interval.** The Brier skill score 1 - Brier / baseline Brier comes with its 95%
  interval and the two-sided p-value of "no skill"; `skill_significant` is a positive estimate with
  p < 0.05.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from paiid.metrics import (
    N_BOOT,
    Interval,
    auc,
    block_bootstrap,
    column_auc,
    column_brier,
    effective_sample_size,
)

#: Below this spread a fold's served probabilities count as one constant.
CONSTANT_TOL = 1e-12
#: Two-sided p-value below which a score counts as significant.
ALPHA = 0.05


def _skill(y: np.ndarray, p: np.ndarray, base: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.0 - column_brier(y, p) / column_brier(y, base)


def _auc_margin(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """AUC - 0.5 of every column (NaN for a resample with one class only), so "0" is no ranking skill."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return column_auc(y, p) - 0.5


def skill_interval(
    y: np.ndarray, p: np.ndarray, base: np.ndarray, *, block: int, n_boot: int = N_BOOT, seed: int = 0
) -> Interval:
    """Brier skill score of `p` against `base` (rows in time order) with its block-bootstrap 95%
    interval and p-value. A forecast equal to its baseline everywhere gets 0, [0, 0], p = 1."""
    return block_bootstrap(_skill, y, p, base, block=block, n_boot=n_boot, seed=seed)


def auc_interval(
    y: np.ndarray, p: np.ndarray, *, block: int, n_boot: int = N_BOOT, seed: int = 0
) -> dict[str, Any]:
    """AUC of `p` with its block-bootstrap 95% interval and the p-value of "AUC = 0.5"; Nones without
    both classes."""
    y = np.asarray(y, np.float64)
    if y.size < 2 or len(np.unique(y)) < 2:
        return {"estimate": None, "ci95": None, "p_value": None}
    iv = block_bootstrap(_auc_margin, y, p, block=block, n_boot=n_boot, seed=seed)
    return {
        "estimate": iv.estimate + 0.5,
        "ci95": None if iv.ci95 is None else [iv.ci95[0] + 0.5, iv.ci95[1] + 0.5],
        "p_value": iv.p_value,
    }


def bootstrap_ci(
    y: np.ndarray,
    p: np.ndarray,
    base: np.ndarray,
    raw: np.ndarray | None = None,
    *,
    block: int = 1,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, Any]:
    """95% circular-block-bootstrap intervals (and p-values) of the AUC of `p`, of `raw` (default `p`)
    and of the Brier skill score of `p` against `base`; rows in time order.

    Every interval resamples the same rows (`paiid.metrics.block_indices` with one `seed`), so they
    are intervals of one set of resamples."""
    y = np.asarray(y, np.int64)
    p = np.asarray(p, np.float64)
    raw = p if raw is None else np.asarray(raw, np.float64)
    n = y.size
    block = int(min(max(block, 1), max(n, 1)))
    if n < 2:
        return {"auc_ci95": None, "auc_p_value": None, "auc_model_ci95": None, "auc_model_p_value": None,
                "brier_skill_ci95": None, "brier_skill_p_value": None, "block": block, "resamples": 0}
    a = auc_interval(y, p, block=block, n_boot=n_boot, seed=seed)
    a_raw = auc_interval(y, raw, block=block, n_boot=n_boot, seed=seed)
    s = skill_interval(y, p, base, block=block, n_boot=n_boot, seed=seed)
    return {
        "auc_ci95": a["ci95"],
        "auc_p_value": a["p_value"],
        "auc_model_ci95": a_raw["ci95"],
        "auc_model_p_value": a_raw["p_value"],
        "brier_skill_ci95": None if s.ci95 is None else list(s.ci95),
        "brier_skill_p_value": s.p_value,
        "block": block,
        "resamples": int(n_boot),
    }


def constant_folds(cv: dict[str, Any]) -> list[bool]:
    """Per walk-forward fold: are its served probabilities one constant (blend weight 0)?"""
    flags, at = [], 0
    for f in cv["folds"]:
        part = cv["proba"][at: at + f["test_events"]]
        at += f["test_events"]
        flags.append(bool(part.size == 0 or np.ptp(part) <= CONSTANT_TOL))
    return flags


def served_rows(cv: dict[str, Any]) -> tuple[np.ndarray, str | None]:
    """Mask over the OOS rows of `cv` whose fold serves varying probabilities, and a note when any fold
    is left out (an AUC of constants would only compare the folds' base rates)."""
    flags = constant_folds(cv)
    sizes = [f["test_events"] for f in cv["folds"]]
    mask = np.repeat(np.array([not c for c in flags], bool), sizes)
    if not any(flags):
        return mask, None
    if all(flags):
        return mask, (
            "the served probabilities are constant within every walk-forward fold (blend weight 0, "
            "each fold's model serves its training base rate), so they rank no events; an AUC pooled over "
            "folds would only compare the folds' base rates. auc_model is the forest before shrinkage."
        )
    left = ", ".join(str(f["fold"]) for f, c in zip(cv["folds"], flags, strict=True) if c)
    return mask, (f"computed on the folds whose probabilities vary; fold(s) {left} serve a constant "
                  "(blend weight 0) and are left out")


def served_auc(cv: dict[str, Any]) -> tuple[float | None, str | None]:
    """AUC of the served OOS probabilities over the folds where they vary (None when none does)."""
    mask, note = served_rows(cv)
    y = cv["y"][cv["rows"]]
    return (auc(y[mask], cv["proba"][mask]) if mask.any() else None), note


def non_overlapping_events(symbol: np.ndarray, t: np.ndarray, t1: np.ndarray) -> int:
    """Largest number of events whose label windows [t, t1] share no bar on the same symbol (interval
    scheduling by earliest exit, per symbol): a conservative count of independent outcomes."""
    total = 0
    for s in np.unique(symbol.astype(str)):
        m = symbol.astype(str) == s
        last = -1
        for start, end in sorted(zip(t[m].tolist(), t1[m].tolist(), strict=True), key=lambda r: r[1]):
            if start > last:
                total += 1
                last = end
    return total


def effective_events(
    y: np.ndarray, base: np.ndarray, symbol: np.ndarray, t: np.ndarray, t1: np.ndarray
) -> dict[str, Any]:
    """How many independent outcomes the OOS events (rows in time order) are worth, two ways."""
    return {
        "events": int(y.size),
        "autocorrelation_adjusted": round(effective_sample_size(np.asarray(y, float) - base), 1),
        "non_overlapping_windows": non_overlapping_events(symbol, t, t1),
        "method": "autocorrelation_adjusted: paiid.metrics.effective_sample_size of the outcome minus the "
                  "fold's base rate, events in decision-date order; non_overlapping_windows: the most "
                  "events whose triple-barrier windows share no bar on the same symbol",
    }


def skill_significant(estimate: float | None, p_value: float | None) -> bool:
    """Positive skill with a p-value below ALPHA."""
    return bool(estimate is not None and p_value is not None and estimate > 0 and p_value < ALPHA)


def _ci(c: list[float] | None, fmt: str = "+.3f") -> str:
    return "no interval" if c is None else f"95% CI [{c[0]:{fmt}}, {c[1]:{fmt}}]"


def sentences(rep: dict[str, Any]) -> list[str]:
    """Plain sentences, computed from the numbers of a `summarize` report, on what is significant."""
    out = []
    weights = [f["blend_weight"] for f in rep["folds"]]
    all_zero = bool(weights) and all(w == 0 for w in weights)
    bss, p = rep["brier_skill"], rep["brier_skill_p_value"]
    if bss is not None:
        head = f"Brier skill {bss:+.3f}, {_ci(rep['brier_skill_ci95'])}, p = {p:.2f}" if p is not None \
            else f"Brier skill {bss:+.3f} (no interval)"
        if skill_significant(bss, p):
            verdict = "significant: the probabilities beat the base rate out of sample"
        elif p is not None and p < ALPHA and bss < 0:
            verdict = "significantly worse than the base rate"
        elif all_zero:
            verdict = "not significant; the model serves the base rate (blend weight 0 in every fold)"
        else:
            verdict = "not significant; the probabilities are not shown to beat the base rate"
        out.append(f"{head}: {verdict}.")
    if rep["auc"] is None:
        out.append("AUC of the served probabilities: none, they are constant within every fold.")
    else:
        part = "" if rep.get("auc_note") is None else " (on the folds where they vary)"
        out.append(f"AUC of the served probabilities {rep['auc']:.3f}{part}, {_ci(rep['auc_ci95'], '.3f')}.")
    am, amp = rep["auc_model"], rep.get("auc_model_p_value")
    if am is not None:
        chance = amp is None or amp >= ALPHA
        verdict = "not distinguishable from chance (0.5)" if chance else \
            "better than chance" if am > 0.5 else "worse than chance"
        pv = "" if amp is None else f", p = {amp:.2f}"
        out.append(f"The forest before shrinkage ranks events with AUC {am:.3f}, "
                   f"{_ci(rep['auc_model_ci95'], '.3f')}{pv}: {verdict}.")
    eff = rep["effective_events"]
    out.append(f"{eff['events']} out-of-sample events are worth about {eff['autocorrelation_adjusted']:.0f} "
               f"independent ones (autocorrelation-adjusted); {eff['non_overlapping_windows']} of them have "
               "label windows that do not overlap.")
    lo, hi = rep["base_rate_ci95"] or (float("nan"), float("nan"))
    out.append(f"Out-of-sample win rate {rep['base_rate']:.1%} (95% CI {lo:.1%} to {hi:.1%} on the "
               "autocorrelation-adjusted count).")
    return out

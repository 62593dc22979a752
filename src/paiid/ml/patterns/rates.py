"""How a pattern type's success rate is stated: with its Wilson interval, its matched baseline and its edge,
or not at all when too few outcomes have resolved.

Why a minimum: a chart pattern with 12 resolved cases and 7 successes "has a 58% rate" whose 95%
interval runs from 32% to 81%; printed as a bare number it reads as knowledge. Below
`MIN_RESOLVED_CASES` the rate is withheld (null, with a note saying how many cases there were and up to
when) while the count and the interval are still given, so the reader sees why.

The baseline's interval counts each detection once (its per-detection matched rate as a fractional
success): the random draws of one detection share its period, so they are far from independent trials
and counting every draw would give a falsely narrow interval.
"""

from __future__ import annotations

from typing import Any

from paiid.metrics import wilson_interval

#: Fewest resolved cases for which a success rate is stated (answers) or shown (evaluate).
MIN_RESOLVED_CASES = 30


def _as_list(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [float(ci[0]), float(ci[1])]


def separated(a: list[float] | None, b: list[float] | None) -> bool | None:
    """Whether two intervals do not overlap (None if either is missing)."""
    if a is None or b is None:
        return None
    return bool(a[0] > b[1] or a[1] < b[0])


def too_few_note(n: int, through: str | None) -> str:
    """The note that replaces a withheld rate."""
    when = f"up to {through[:10]}" if through else "in the training data"
    return f"only {n} resolved cases {when}: too few to state a rate"


def rate_block(
    n: float, successes: float, base_sum: float, base_n: float, *, through: str | None = None,
    min_cases: int = MIN_RESOLVED_CASES,
) -> dict[str, Any]:
    """The rate of `successes` out of `n` resolved cases beside the matched baseline (`base_sum` over
    `base_n` detections with a resolved baseline), each with its Wilson 95% interval.

    Keys: resolved, success_rate (None below `min_cases`), success_rate_ci95, shown, note, baseline_rate,
    baseline_rate_ci95, edge (rate - baseline; None when the rate is withheld), intervals_separate.
    """
    n_i = int(n)
    rate = successes / n if n else None
    ci = _as_list(wilson_interval(successes, n_i)) if n_i else None
    base = base_sum / base_n if base_n else None
    base_ci = _as_list(wilson_interval(base_sum, int(base_n))) if base_n else None
    shown = n_i >= min_cases
    return {
        "resolved": n_i,
        "success_rate": rate if shown else None,
        "success_rate_ci95": ci,
        "shown": shown,
        "note": None if shown else too_few_note(n_i, through),
        "baseline_rate": base,
        "baseline_rate_ci95": base_ci,
        "edge": rate - base if shown and base is not None and rate is not None else None,
        "intervals_separate": separated(ci, base_ci) if shown else None,
    }

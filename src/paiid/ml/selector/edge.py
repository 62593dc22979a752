"""Stand aside: does any template have a credible edge now, by what the selector's history says?

The rule (fixed before any test fold was looked at, and not tuned on one):

    stand aside  <=>  for every template j:  mean_j - EDGE_Z * sd_j / sqrt(n_eff) <= 0

where mean_j and sd_j are the mean and spread (ddof=1) of template j's realised forward return over the
`NEIGHBOURS` decision dates most similar to now in the model's stored history (the ones its
`expected_return` comes from: out-of-sample rows of the walk-forward for the served model, a fold's
training rows in `paiid evaluate`), and n_eff = neighbours x step / horizon.

Why these choices:

* **Forward return, not probability.** The probabilities say which template is likely to be the best of
  four; the best of four can still lose money. Being flat earns 0, so a template is worth following only
  if what it earned in comparable conditions is above 0 by more than the noise of that estimate.
* **n_eff = n x step / H.** Neighbours are decision dates every `step` bars whose H-bar outcome windows
  overlap; similar dates cluster in time, so their outcomes are about as dependent as consecutive
  decision dates are. Counting them as independent would make almost any mean look credible.
* **EDGE_Z = 1** (a one-sided ~84% bound): a modest bar. The question is "is there any evidence of an
  edge at all", not "is the edge proven"; with ~12 effective observations a 95% bound would stand aside
  nearly always and say nothing about today.
* **Any template** (the contract's "no template has a credible edge"): the ranking is still given;
  the verdict is about whether following any of it is supported by history.

Without a stored history (a model fitted without `oos`) the rule has nothing to read and does not stand
aside; the reason says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Standard errors the neighbours' mean forward return must clear for an edge to count as credible.
EDGE_Z = 1.0


def effective_neighbours(neighbours: int, horizon: int, step: int) -> float:
    """Independent outcomes `neighbours` overlapping H-bar windows sampled every `step` bars are worth."""
    return max(1.0, neighbours * min(step, horizon) / max(horizon, 1))


def lower_bounds(exp: Mapping[str, Any], horizon: int, step: int, z: float = EDGE_Z) -> np.ndarray:
    """Per template, mean - z * sd / sqrt(n_eff) of the neighbours' forward return (NaN without them)."""
    mean = np.asarray(exp["expected_return"], np.float64)
    sd = np.asarray(exp["return_sd"], np.float64)
    n = int(exp.get("neighbours") or 0)
    if n < 2:
        return np.full(mean.shape, np.nan)
    return mean - z * sd / np.sqrt(effective_neighbours(n, horizon, step))


def verdict(exp: Mapping[str, Any], templates: Sequence[str], horizon: int, step: int
            ) -> tuple[bool, str | None, np.ndarray]:
    """(stand_aside, reason or None, lower bound per template) from one query's `expectations`."""
    lo = lower_bounds(exp, horizon, step)
    if not np.isfinite(lo).any():
        return False, None, lo
    if (lo > 0).any():
        return False, None, lo
    mean = np.asarray(exp["expected_return"], np.float64)
    best = int(np.nanargmax(mean))
    n = int(exp["neighbours"])
    n_eff = effective_neighbours(n, horizon, step)
    if mean[best] <= 0:
        why = (f"every template lost money on average over the next {horizon} bars of the {n} most "
               f"similar past decision dates (best: {templates[best]} {100 * mean[best]:+.2f}%)")
    else:
        why = (f"the best average over the next {horizon} bars of the {n} most similar past decision "
               f"dates ({templates[best]} {100 * mean[best]:+.2f}%) is within {EDGE_Z:g} standard error "
               f"of zero (about {n_eff:.0f} independent outcomes)")
    return True, f"no template has an edge now: {why}", lo


def stand_aside_rows(model: Any, X: np.ndarray, regimes: Sequence[Any]) -> np.ndarray:
    """The stand-aside verdict for every row of X (one `expectations` query each), as booleans."""
    out = np.zeros(len(X), dtype=bool)
    for i, (x, reg) in enumerate(zip(X, regimes, strict=True)):
        exp = model.expectations(x, str(reg))
        out[i] = verdict(exp, model.templates_, model.horizon, model.step)[0]
    return out

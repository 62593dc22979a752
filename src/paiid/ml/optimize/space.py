"""The parameter ranges a study searches, and how a trial draws one point from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optuna

from paiid.backtest.strategies import StrategyTemplate
from paiid.errors import BadInput


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


def suggest(trial: optuna.Trial, ranges: Mapping[str, tuple[float, float, str]]) -> dict[str, Any]:
    """One point of `ranges`, drawn by the trial's sampler (integers stay integers)."""
    out: dict[str, Any] = {}
    for name, (lo, hi, kind) in ranges.items():
        if kind == "int":
            out[name] = trial.suggest_int(name, int(lo), int(hi))
        else:
            out[name] = trial.suggest_float(name, float(lo), float(hi))
    return out

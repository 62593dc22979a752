"""`paiid evaluate` part "selector": purged walk-forward scores of the strategy selector, with baselines.

The recipe scored is the served one (`selector_for`), on the symbols the engine passes (the usable daily
ones), with a regime model fitted on their bars; each fold refits a copy of it on its own past
(`cross_validate(regime_model=...)`) so this full-history fit never scores itself. `ml` may not import
the engine's registry, hence a fresh regime fit rather than the served model. The causality check runs
on the last symbol.

Beside the point scores the report carries their uncertainty (`significance`: per-fold table, effective
number of decisions, bootstrap intervals of the accuracy lift and of the Sharpe margins, the rotation
null, the stand-aside rule out of sample) and `summary`, plain sentences of what is and is not
significant (`summary.sentences`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paiid.ml.context import load_symbols
from paiid.ml.leakage import check_causal
from paiid.ml.regime import RegimeDetector
from paiid.ml.selector.dataset import build_dataset
from paiid.ml.selector.model import selector_for
from paiid.ml.selector.plot import equity_plot
from paiid.ml.selector.significance import significance
from paiid.ml.selector.summary import sentences
from paiid.ml.selector.validation import cross_validate, summarize


def evaluate(
    seed: int = 0,
    *,
    symbols: list[str],
    plot: str | Path | None = None,
    kind: str = "rf",
    n_estimators: int = 300,
    use_regime_model: bool = True,
) -> dict[str, Any]:
    """The selector report; `plot` writes the OOS equity chart (HTML) there. `use_regime_model=False`
    scores the selector on the rule-based regime instead."""
    bars = load_symbols(symbols)
    regime_model = RegimeDetector(random_state=seed).fit(list(bars.values())) if use_regime_model else None
    ds = build_dataset(bars, regime_model=regime_model)
    cv = cross_validate(ds, selector_for(ds, kind=kind, n_estimators=n_estimators, seed=seed),
                        regime_model=regime_model)
    out = summarize(ds, cv, seed=seed, with_curves=True)
    curves = out.pop("_curves")
    out.update(significance(ds, cv, seed=seed))
    out["summary"] = sentences(out, out.pop("_fold_series"))
    out["model"] = (
        f"{'random forest' if kind == 'rf' else 'gradient boosting'} (class_weight balanced, "
        f"{n_estimators} trees, sigmoid-calibrated on purged walk-forward folds)"
    )
    out["regime_source"] = ds.regime_source
    out["causality_check"] = check_causal(bars[symbols[-1]], symbol=symbols[-1], regime_model=regime_model)
    if plot is not None:
        out["plot"] = str(equity_plot(curves, plot))
    return out

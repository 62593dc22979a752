"""The pipeline cannot cheat: shuffled labels fall to the baseline, a future-return feature is caught.

Both run the real dataset, the real purged walk-forward and the real model (few trees, to stay fast).
"""

from __future__ import annotations

import numpy as np
import pytest

from paiid.data import load_bars
from paiid.ml.context import HORIZON, TEMPLATES
from paiid.ml.leakage import LeakageError, check_causal
from paiid.ml.selector import StrategySelector, build_dataset
from paiid.ml.selector.validation import cross_validate, plausibility

pytestmark = pytest.mark.slow


def _future_template_return(j: int):
    """Template j's own return over the next H bars: exactly what the label is made of."""

    def feature(ctx) -> np.ndarray:
        r = ctx.returns[TEMPLATES[j]]
        c = np.concatenate(([0.0], np.cumsum(r)))
        out = np.full(r.size, np.nan)
        t = np.arange(r.size - HORIZON)
        out[t] = c[t + HORIZON + 1] - c[t + 1]
        return out

    return feature


LEAKY = {f"future_{j}": _future_template_return(j) for j in range(len(TEMPLATES))}


@pytest.fixture(scope="module")
def bars():
    return {"SPX": load_bars("SPX"), "GOOG": load_bars("GOOG")}


def _accuracy(ds, y=None) -> tuple[float, float]:
    model = StrategySelector(
        n_estimators=60, random_state=0, templates=ds.templates, feature_names=ds.feature_names
    )
    cv = cross_validate(ds, model, y=y, progress=False)
    yt = cv["y"][cv["rows"]]
    return float(np.mean(cv["pred"] == yt)), float(np.mean(cv["majority"] == yt))


def test_real_labels_beat_the_majority_baseline_and_shuffled_labels_do_not(bars) -> None:
    ds = build_dataset(bars, progress=False)
    acc, maj = _accuracy(ds)
    assert acc > maj + 0.03, (acc, maj)
    rng = np.random.default_rng(0)
    shuffled_acc, shuffled_maj = _accuracy(ds, y=rng.permutation(ds.y))
    # nothing to learn: no better than always answering the majority class or guessing uniformly
    assert shuffled_acc <= max(shuffled_maj, 1 / len(TEMPLATES)) + 0.04, (shuffled_acc, shuffled_maj)
    assert not plausibility(acc, maj)["leakage_suspected"]


def test_a_future_return_feature_is_rejected_by_the_causality_check(bars) -> None:
    with pytest.raises(LeakageError, match="future_0"):
        check_causal(bars["GOOG"], symbol="GOOG", extra=LEAKY)


def test_a_leaky_run_is_flagged_as_implausible(bars) -> None:
    ds = build_dataset(bars, progress=False, extra=LEAKY)
    acc, maj = _accuracy(ds)
    flag = plausibility(acc, maj)
    assert flag["leakage_suspected"], (acc, maj)

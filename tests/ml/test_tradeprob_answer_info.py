"""Trade win-probability answer: `informative` and its note, and the out-of-distribution check
(`typicality`) that shrinks the probability toward the base rate on a crash the model never saw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paiid.data import load_bars
from paiid.errors import BadInput
from paiid.ml.tradeprob import TradeProbModel, build_trade_dataset, trade_answer

#: Quiet quarters of SPX (no crash, no sell-off): answers there are not flagged unusual.
CALM = ["2004-06-30", "2005-06-30", "2005-09-30", "2006-03-31", "2006-09-29", "2013-09-30", "2014-06-30",
        "2017-03-31", "2017-06-30", "2017-09-29", "2017-12-29"]


@pytest.fixture(scope="module")
def spx() -> pd.DataFrame:
    return load_bars("SPX")


@pytest.fixture(scope="module")
def ds(spx):
    return build_trade_dataset({"SPX": spx})


def _fit(ds, y=None, **kw) -> TradeProbModel:
    m = TradeProbModel(n_estimators=20, templates=ds.templates, feature_names=ds.feature_names, **kw)
    return m.fit(ds.X, ds.y if y is None else y, ds.label_end_rows, ds.embargo_rows(), ds.ret_atr,
                 exit_dates=ds.t1_date)


@pytest.fixture(scope="module")
def leaning(ds) -> TradeProbModel:
    """No one-standard-error rule: the forest keeps a positive weight on SPX's (noise) labels."""
    m = _fit(ds, shrink_se=0.0)
    assert m.blend_weight_ > 0.05
    return m


def shock(bars: pd.DataFrame, crash: float = -0.35, n_crash: int = 5, n_after: int = 15,
          mult: float = 5.0) -> pd.DataFrame:
    """`bars` with a crash appended: `crash` over `n_crash` bars, then daily moves `mult` x the
    series' own daily standard deviation (alternating sign), ranges widened alike."""
    sd = float(np.log(bars["close"]).diff().std())
    rets = np.r_[np.full(n_crash, (1 + crash) ** (1 / n_crash) - 1), mult * sd * (-1.0) ** np.arange(n_after)]
    last = float(bars["close"].iloc[-1])
    close = last * np.cumprod(1 + rets)
    open_ = np.r_[last, close[:-1]]
    idx = pd.bdate_range(bars.index[-1] + pd.Timedelta(days=1), periods=rets.size, name="date")
    new = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * (1 + mult * sd / 2),
                        "low": np.minimum(open_, close) * (1 - mult * sd / 2), "close": close,
                        "volume": float(bars["volume"].iloc[-20:].mean())}, index=idx)
    return pd.concat([bars, new])


def test_the_base_rate_model_says_it_is_uninformative(ds, spx) -> None:
    m = _fit(ds, validation_splits=3)
    assert m.blend_weight_ == 0.0  # SPX's entry labels: no skill survives the one-standard-error rule
    ans = trade_answer(m, spx.loc[:"2014-06-30"], "SPX", "momentum-macd", "long")
    assert ans["informative"] is False
    assert ans["win_probability"] == ans["base_rate"] == pytest.approx(ds.y.mean())
    assert ans["note"].startswith(
        f"no information beyond the base rate of {ds.y.mean():.1%} ({len(ds)} resolved events up to "
        f"{str(ds.t1_date.max())[:10]})"
    )
    for key in ("win_probability", "expected_return", "horizon_bars"):
        assert key in ans


def test_weight_without_significant_skill_is_not_informative(leaning, spx) -> None:
    ans = trade_answer(leaning, spx.loc[:"2014-06-30"], "SPX", "momentum-macd", "long")
    assert ans["informative"] is False and ans["win_probability"] != ans["base_rate"]
    assert "no out-of-sample validation" in ans["note"]


def test_significant_skill_is_informative(ds, spx) -> None:
    """Labels made predictable from a real feature (the 5-bar return in the trade's favour): the
    validation finds significant skill and the answer is informative."""
    col = ds.feature_names.index("sided_ret_5")
    y = (ds.X[:, col] > np.median(ds.X[:, col])).astype(np.int64)
    m = _fit(ds, y=y, validation_splits=3)
    assert m.validation_["skill_significant"] and m.validation_["brier_skill_p_value"] < 0.05
    ans = trade_answer(m, spx.loc[:"2014-06-30"], "SPX", "momentum-macd", "long")
    assert ans["informative"] is True and not ans["note"].startswith("no information")


def test_ordinary_bars_are_typical(leaning, spx) -> None:
    seen = 0
    for d in CALM:
        for tid in leaning.templates_:
            try:
                ans = trade_answer(leaning, spx.loc[:d], "SPX", tid)  # the template's own side
            except BadInput:  # flat template: no side to ask about
                continue
            seen += 1
            t = ans["typicality"]
            assert not t["unusual"] and t["confidence_factor"] == 1.0, (d, tid, t)
            assert ans["effective_blend_weight"] == ans["blend_weight"]
            assert ans["win_probability"] == pytest.approx(
                ans["base_rate"] + ans["blend_weight"] * (ans["model_probability"] - ans["base_rate"]))
    assert seen >= 10


def test_a_crash_is_flagged_and_shrunk_toward_the_base_rate(leaning, spx) -> None:
    bars = shock(spx)
    assert bars["close"].iloc[-16] / bars["close"].iloc[-21] == pytest.approx(0.65)
    w = leaning.blend_weight_
    for tid in leaning.templates_:
        for side in ("long", "short"):
            ans = trade_answer(leaning, bars, "SPX", tid, side)
            t = ans["typicality"]
            assert t["unusual"] and t["percentile"] > 99 and 0 < t["confidence_factor"] < 1, (tid, side)
            f = t["confidence_factor"]
            assert ans["effective_blend_weight"] == pytest.approx(w * f)
            base, raw = ans["base_rate"], ans["model_probability"]
            assert ans["win_probability"] == pytest.approx(base + w * f * (raw - base))
            assert abs(ans["win_probability"] - base) < abs(w * (raw - base)) or raw == base
            assert "inputs unusual for the model" in ans["note"]

"""The close-only regime detector (`RegimeDetector(volatility="close")`) and the S&P 500 index's
per-episode table (`paiid.ml.regime.episodes`), point in time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import clone

from paiid.data import as_of, load_bars, real_columns
from paiid.errors import BadInput
from paiid.features import WARMUP
from paiid.ml.regime import REGIMES, RegimeDetector
from paiid.ml.regime.episodes import DECLINES, INDEX, episode_table, yearly_labels
from paiid.ml.regime.evaluate import synthetic_benchmark
from paiid.ml.regime.realdata import criteria


def _close_only(bars: pd.DataFrame) -> pd.DataFrame:
    """The same closes with open, high, low and volume absent (what a close-only import stores)."""
    out = bars.copy()
    out[["open", "high", "low", "volume"]] = np.nan
    return out


def test_close_variant_fits_and_labels_a_close_only_series() -> None:
    sp = load_bars(INDEX)
    assert real_columns(sp) == ["close"]
    det = RegimeDetector(volatility="close").fit(sp.loc[:"2005-12-31"])
    reg = det.history(sp)["regime"]
    assert all(r is None for r in reg[:WARMUP])
    assert set(reg[WARMUP:]) <= set(REGIMES)  # every bar after the warm-up gets a name
    assert len(set(reg[WARMUP:])) >= 3
    # the default needs high and low: a clear error naming the missing columns and the fix
    with pytest.raises(BadInput, match=r"high, low.*volatility='close'"):
        RegimeDetector().fit(sp)
    with pytest.raises(BadInput, match="unknown regime volatility"):
        RegimeDetector(volatility="atr").fit(sp)


def test_close_variant_reads_closes_only_and_default_is_unchanged() -> None:
    spx = load_bars("SPX").loc[:"2012-12-31"]
    close = RegimeDetector(volatility="close").fit(spx)
    h_ohlcv = close.history(spx)
    h_close = clone(close).fit(_close_only(spx)).history(_close_only(spx))
    # nothing but the closes enters the close-only variant: same labels and probabilities without OHLV
    assert list(h_ohlcv["regime"]) == list(h_close["regime"])
    np.testing.assert_array_equal(h_ohlcv["proba"], h_close["proba"])
    rng = RegimeDetector().fit(spx)
    x_r, x_c = rng.inputs(spx), close.inputs(spx)
    np.testing.assert_array_equal(x_r[:, 1:], x_c[:, 1:])  # same direction inputs...
    ok = np.isfinite(x_r[:, 0])
    assert not np.allclose(x_r[ok, 0], x_c[ok, 0])  # ...another volatility input
    # the explicit default is the default, bit for bit
    explicit = RegimeDetector(volatility="range").fit(spx).history(spx)
    np.testing.assert_array_equal(rng.history(spx)["proba"], explicit["proba"])
    assert clone(close).get_params()["volatility"] == "close"


def test_a_model_saved_before_the_parameter_existed_loads_and_behaves_as_before() -> None:
    spx = load_bars("SPX").loc[:"2008-12-31"]
    det = RegimeDetector().fit(spx)
    expected = det.history(spx)["proba"]
    del det.__dict__["volatility"]  # what an older file restores: no such attribute on the instance
    data = sio.dumps(det)
    old = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert "volatility" not in old.__dict__
    np.testing.assert_array_equal(old.history(spx)["proba"], expected)
    assert old.get_params()["volatility"] == "range" and clone(old).volatility == "range"


def test_close_variant_is_well_above_chance_on_series_with_known_regimes() -> None:
    r = synthetic_benchmark(seed=0, n_train=3, n_test=2, n_bars=2000, volatility="close")
    assert r["accuracy"] > 0.6  # four regimes: chance is 0.25
    assert min(r["recall"].values()) > 0.3  # no regime is lost to the substitute


@pytest.fixture(scope="module")
def index_labels() -> pd.DataFrame:
    return yearly_labels(INDEX)


def test_index_table_covers_every_episode_point_in_time(index_labels: pd.DataFrame) -> None:
    bars = load_bars(INDEX)
    t = episode_table(INDEX, bars, index_labels, "close-only")
    rows = {r["name"]: r for r in t["episodes"]}
    declines = [r for r in t["episodes"] if r["kind"] == "decline"]
    assert [r["name"] for r in declines] == [d[0] for d in DECLINES]
    assert [r["kind"] for r in t["episodes"]] == ["decline", "bull run"] * 5 + ["decline"]
    for r in t["episodes"]:
        assert r["days"] == len(bars.loc[r["start"]:r["end"]])
        if r["labelled_days"]:
            assert sum(r["regime_shares"].values()) == pytest.approx(1.0)
            assert sum(r["state_shares"].values()) == pytest.approx(1.0)
    # two years of history before the first fit: 1990-91 unlabelled, every day from 1992 labelled
    assert rows["1990 decline"]["labelled_days"] == 0
    assert t["coverage"]["unlabelled_years"] == [1990, 1991]
    assert index_labels.loc["1992":, "regime"].notna().all()
    # against the published criterion, not the model's own rules: in every decline with criterion-bear
    # days, most of them are labelled bearish; and criterion-bull days almost never are
    for r in declines[1:]:
        assert r["criterion_bear_days"] >= 10
        assert r["criterion_bear_labelled_bearish"] > 0.5, r["name"]
    assert t["overall"]["criterion_bull"]["share_labelled_bearish"] < 0.05
    # 2007-09: -57 %, mostly bearish or turbulent; every decline more bearish than the bull runs beside it
    s = rows["2007-09 decline"]["regime_shares"]
    assert s["trending_bearish"] + s["high_volatility"] > 0.5
    eps = t["episodes"]
    for i in range(2, len(eps), 2):
        for j in (i - 1, i + 1):
            if 0 <= j < len(eps) and eps[j]["labelled_days"]:
                assert (eps[i]["regime_shares"]["trending_bearish"]
                        > eps[j]["regime_shares"]["trending_bearish"]), (eps[i]["name"], eps[j]["name"])
    bear, _ = criteria(bars)
    assert t["overall"]["criterion_bear"]["days"] == int(bear.loc["1992":].sum())
    assert len(t["summary"]) == len(eps) + 1


def test_index_labels_of_a_year_do_not_change_when_later_bars_are_removed(index_labels: pd.DataFrame) -> None:
    with as_of("1996-12-31"):
        early = yearly_labels(INDEX)
    assert early.index[-1] <= pd.Timestamp("1996-12-31")
    year = early.loc["1996"]
    assert year["regime"].notna().all() and len(year) > 200
    pd.testing.assert_frame_equal(year, index_labels.loc["1996"])

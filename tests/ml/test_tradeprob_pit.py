"""Trade win-probability, point in time: the dataset built on bars cut at a date D holds only events whose
triple-barrier window ends at or before D, and their labels are the ones the full history gives them
(an event whose window runs past the last loaded bar is dropped, never labelled by truncation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paiid.data import load_bars
from paiid.data.repository import as_of
from paiid.ml.tradeprob import TradeProbModel, build_trade_dataset

CUT = "2011-08-15"  # the August 2011 sell-off: five entry windows open at the cut


@pytest.fixture(scope="module")
def both():
    full_bars = load_bars("SPX")
    with as_of(CUT):  # how the lead trains "as of" a past date
        cut_bars = load_bars("SPX")
    full, cut = build_trade_dataset({"SPX": full_bars}), build_trade_dataset({"SPX": cut_bars})
    return full_bars, cut_bars, full, cut


def _keys(ds, rows) -> list[tuple]:
    return [(str(ds.t_date[i]), int(ds.template[i]), float(ds.side[i])) for i in rows]


def test_every_label_ends_within_the_loaded_bars(both) -> None:
    full_bars, cut_bars, _, cut = both
    assert cut_bars.index[-1] <= pd.Timestamp(CUT) < full_bars.index[-1]
    last = len(cut_bars) - 1
    assert len(cut) > 100
    assert (cut.t1_pos <= last).all() and (cut.t1_date <= np.datetime64(cut_bars.index[-1])).all()
    # the whole barrier window, not only the exit, lies inside the loaded bars
    assert (cut.t_pos + cut.horizon <= last).all()


def test_resolved_events_keep_their_full_history_labels(both) -> None:
    full_bars, cut_bars, full, cut = both
    index = {k: i for i, k in enumerate(_keys(full, range(len(full))))}
    rows = [index[k] for k in _keys(cut, range(len(cut)))]  # KeyError = an event the full history lacks
    np.testing.assert_array_equal(cut.y, full.y[rows])
    np.testing.assert_array_equal(cut.t1_date, full.t1_date[rows])
    np.testing.assert_allclose(cut.ret, full.ret[rows], rtol=0, atol=1e-12)
    np.testing.assert_allclose(cut.X, full.X[rows], rtol=1e-9, atol=1e-12)  # features at t, causal


def test_events_open_at_the_cut_are_dropped_not_truncated(both) -> None:
    full_bars, cut_bars, full, cut = both
    last = len(cut_bars) - 1
    open_at_cut = (full.t_pos <= last) & (full.t_pos + full.horizon > last)
    assert open_at_cut.sum() >= 3  # the cut falls inside some windows, so the check below means something
    assert not set(_keys(full, np.flatnonzero(open_at_cut))) & set(_keys(cut, range(len(cut))))
    # dropped even when a barrier was already hit before the cut: keeping those and not the others of
    # the same dates would favour quick outcomes (barrier hits) over time-barrier ones in the base rate
    assert (full.t1_pos[open_at_cut] <= last).any()
    # everything decided early enough is kept: only the open windows are missing
    early = full.t_pos + full.horizon <= last
    assert set(_keys(full, np.flatnonzero(early))) == set(_keys(cut, range(len(cut))))
    # the base rate a model fitted as of the cut serves is the win rate of those resolved events only
    m = TradeProbModel(n_estimators=10).fit(cut.X, cut.y, cut.label_end_rows, cut.embargo_rows(),
                                            exit_dates=cut.t1_date)
    assert m.base_rate_ == pytest.approx(full.y[early].mean())
    assert m.n_events_ == int(early.sum()) and m.resolved_through_ <= CUT

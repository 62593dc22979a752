"""Point in time: tables and data sets count only detections whose outcome resolved within the loaded bars."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from paiid.data import load_bars
from paiid.data.repository import as_of
from paiid.ml.patterns.dataset import symbol_dataset
from paiid.ml.patterns.scorer import train

CUT = "2003-06-30"


@pytest.fixture(scope="module")
def full():
    return symbol_dataset("SPX", load_bars("SPX"))


def _rows(ds, mask=None):
    idx = range(len(ds)) if mask is None else np.flatnonzero(mask)
    return sorted((ds.types[i], int(ds.time[i]), float(ds.y[i])) for i in idx)


def test_a_dataset_cut_at_d_holds_exactly_the_detections_resolved_by_d(full) -> None:
    cut_bars = load_bars("SPX", end=CUT)
    cut = symbol_dataset("SPX", cut_bars)
    d = cut_bars.index[-1].value
    assert len(cut) > 100
    assert (cut.resolved_time <= d).all() and (cut.time <= cut.resolved_time).all()
    # the same detections, with the same outcomes, as the full history has resolved by D
    assert _rows(cut) == _rows(full, full.resolved_time <= d)
    # and some of the full history's detections confirmed by D were still open at D: they are not failures
    open_at_d = (full.time <= d) & (full.resolved_time > d)
    assert open_at_d.any()


def test_trainer_under_as_of_counts_only_outcomes_resolved_by_then(full) -> None:
    with as_of(CUT):
        model = train(["SPX"], seed=0).model
    d = pd.Timestamp(CUT).value
    assert pd.Timestamp(model.resolved_through_).value <= d
    counted = {t: int(row[0]) for t, row in model.type_table_.items()}
    successes = {t: row[1] for t, row in model.type_table_.items()}
    m = full.resolved_time <= d
    want = Counter(np.array(full.types)[m].tolist())
    want_s = Counter()
    for t, y in zip(np.array(full.types)[m], full.y[m], strict=True):
        want_s[t] += y
    assert counted == dict(want)
    assert successes == pytest.approx(dict(want_s))
    assert model.typicality_ is not None and model.typicality_.n_training_rows_ <= sum(counted.values())

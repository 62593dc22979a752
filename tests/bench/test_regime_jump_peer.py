"""The jump-model peer of `paiid bench --only regime-vs-jump-model`: fed features it can cluster on, and
compared with ours by a paired test whose numbers are worked out by hand here."""

from __future__ import annotations

import numpy as np
import pandas as pd

from paiid.bench.regime import JUMP_WARMUP, jump_features, paired_month_ends
from paiid.data import load_bars


def _standardised_sortino_spread(feats: pd.DataFrame) -> float:
    """Interquartile range of `sortino_10` after standardising on the rows given (as the peer's
    scaler does on its training rows)."""
    z = (feats - feats.mean()) / feats.std()
    q = z["sortino_10"].quantile([0.25, 0.75])
    return float(q.iloc[1] - q.iloc[0])


def test_the_peer_trains_on_features_with_spread() -> None:
    """SPX's first days have no down day yet: downside deviation ~0 and a Sortino ratio ~1e6. Kept in the
    training rows they set the mean and standard deviation, and every other Sortino value standardises to
    the same number (the peer then clusters on downside deviation alone). The warm-up is left out."""
    feats = jump_features(load_bars("SPX").loc[:"2003-12-31"])
    assert _standardised_sortino_spread(feats) < 0.01  # the failure the warm-up cut exists for
    assert _standardised_sortino_spread(feats.iloc[JUMP_WARMUP:]) > 0.5


def test_paired_month_ends_counts_only_the_discordant_month_ends() -> None:
    days = pd.bdate_range("2004-01-01", "2006-12-31")
    ours = pd.Series(0.0, index=days)
    peer = pd.Series(0.0, index=days)
    month_end = days.to_series().groupby(days.to_period("M")).max()
    # ours alone bearish at three month-ends, the peer alone at none; one month-end both; one unlabelled
    for d in month_end.iloc[[2, 10, 20]]:
        ours[d] = 1.0
    ours[month_end.iloc[5]] = peer[month_end.iloc[5]] = 1.0
    ours[month_end.iloc[30]] = np.nan  # not labelled by ours: that month-end is left out of the pairs
    ours[days[days.get_loc(month_end.iloc[31]) - 1]] = 1.0  # the day before a month-end: ignored

    rep = paired_month_ends(ours, peer)["2004-2006 bull"]
    assert rep["month_ends"] == 35
    assert rep["only_ours_bearish"] == [d.date().isoformat() for d in month_end.iloc[[2, 10, 20]]]
    assert rep["only_peer_bearish"] == []
    # exact two-sided binomial test of 3 discordant pairs all one way: 2 * 0.5 ** 3
    assert rep["p_value"] == 0.25
    assert rep["significant"] is False

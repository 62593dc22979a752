"""The four regime names, and the rule that gives each fitted cluster one of them.

The rule works on the *raw* cluster centres (`INPUT_NAMES` columns, before standardisation), so names
are stable across retrains and mean the same for every training mix: the most volatile cluster, and
any other whose volatility is at least 1.5x the usual level, is ``high_volatility``; every other
cluster is ``trending_bullish`` if its 20- and 60-bar returns both point up with a mean
signal-to-noise of at least `TREND_SNR` (0.25), ``trending_bearish`` likewise down, and ``ranging``
otherwise. The detector fits more clusters than names (six by default) so that strong and mild trends,
and a rally inside a falling market, can have clusters of their own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from paiid.ml.regime.inputs import DIR_IDX, VOL_IDX

#: Regime names; the column order of every probability array and of the synthetic ground truth.
REGIMES: tuple[str, ...] = ("trending_bullish", "trending_bearish", "ranging", "high_volatility")
#: A cluster trends when its mean return is at least this many standard deviations of the noise over
#: the return's own window (20 and 60 bars): a quarter sigma up or down, not a random-walk wobble.
TREND_SNR = 0.25
#: A cluster is volatile when its volatility is at least exp(0.4) ~ 1.5x the symbol's usual level.
VOLATILE_LOG = 0.4


def map_clusters(centres: np.ndarray, trend: float = TREND_SNR, volatile: float = VOLATILE_LOG) -> list[str]:
    """The cluster -> regime rule on *raw* (unstandardised) centres, `INPUT_NAMES` columns.

    Raw, because there the numbers mean something whatever the training mix: a volatility input of 0
    is the symbol's usual level, a direction of 0 is flat, 1 is a one-sigma move. The most volatile
    cluster, and any other at least `volatile` (log) above the usual level, is ``high_volatility``;
    every other cluster is ``trending_bullish`` if its 20- and 60-bar returns both point up and their
    mean signal-to-noise is >= `trend`, ``trending_bearish`` likewise down, else ``ranging``. Why both
    horizons: a 20-bar rally inside a falling 60-bar market (a bear-market rally) is not a bull trend.
    """
    centres = np.asarray(centres, dtype=np.float64)
    vol = centres[:, list(VOL_IDX)].mean(axis=1)
    dirs = centres[:, list(DIR_IDX)]
    dire = dirs.mean(axis=1)
    agree_up, agree_down = np.all(dirs > 0, axis=1), np.all(dirs < 0, axis=1)
    hv = int(np.argmax(vol))
    names = []
    for j in range(len(centres)):
        if j == hv or vol[j] >= volatile:
            names.append("high_volatility")
        elif dire[j] >= trend and agree_up[j]:
            names.append("trending_bullish")
        elif dire[j] <= -trend and agree_down[j]:
            names.append("trending_bearish")
        else:
            names.append("ranging")
    return names


def regime_matrix(cluster_regime: Sequence[str]) -> np.ndarray:
    """(clusters, regimes) 0/1 matrix: cluster probabilities @ it = regime probabilities."""
    m = np.zeros((len(cluster_regime), len(REGIMES)))
    for j, name in enumerate(cluster_regime):
        m[j, REGIMES.index(name)] = 1.0
    return m

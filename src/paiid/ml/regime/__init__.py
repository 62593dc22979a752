"""Market regime detection: which of four regimes a market is in, as of a bar's close, with no lookahead.

- `inputs`: the volatility (relative to the symbol's usual level) and direction inputs per bar.
- `clusters`: K-Means + Gaussian mixture, or a Gaussian HMM: the parameters behind the detector.
- `naming`: the four regime names and the rule that names each cluster.
- `smoothing`: the minimum-duration rule (no flicker).
- `model`: `RegimeDetector` (fit, forward-filtered probabilities, per-bar history).
- `validation`: the walk-forward folds and the label scores; `ranking`: which families work per regime.
- `answer`: the market-regime JSON; `naive`: the baseline rule.
- `train`: the trainer; `holdout`: `paiid retrain`'s test.
- `synthetic` / `evaluate`: generated series with known regimes and the honest report.
- `realdata` / `episodes`: point-in-time checks on real prices; the S&P 500 index per-episode table.
"""

from paiid.ml.regime.answer import regime_answer
from paiid.ml.regime.holdout import holdout_score
from paiid.ml.regime.inputs import MIN_BARS
from paiid.ml.regime.model import RegimeDetector
from paiid.ml.regime.naive import naive_regime
from paiid.ml.regime.naming import REGIMES
from paiid.ml.regime.train import train

__all__ = [
    "MIN_BARS",
    "REGIMES",
    "RegimeDetector",
    "holdout_score",
    "naive_regime",
    "regime_answer",
    "train",
]

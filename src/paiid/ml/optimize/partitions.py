"""PBO over several block partitions: one CSCV value is one way of cutting the history, not a property of it.

`paiid.ml.overfitting.probability_of_backtest_overfitting` cuts the trial-by-time matrix into S equal
blocks starting at the first bar. Both choices are arbitrary, and on pure noise a single PBO ranges from
under 0.2 to over 0.6 with them. `pbo_spread` repeats CSCV for each block count in `PBO_BLOCKS` and each
of `PBO_OFFSETS` starting offsets (a circular shift of the rows by a fraction of a block, so that every
partition's block edges fall on different bars), and reports the median, the range and every run. The
verdict uses the median; a range wider than `PBO_WIDE` is called out, because then the single number
would have been an accident of the partition.

A circular shift leaves one block holding the last and the first bars of the history. CSCV treats
blocks as unordered sets of bars (a split is "these S/2 blocks in-sample, the rest out"), so that block
is as valid as any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from paiid.ml.overfitting import PBOResult, probability_of_backtest_overfitting

#: Block counts tried (C(S, S/2) splits each: 70, 252, 924, 12,870).
PBO_BLOCKS = (8, 10, 12, 16)
#: Starting offsets per block count: 0, 1/3 and 2/3 of a block.
PBO_OFFSETS = 3
#: A max-min spread above this is reported as wide (it straddles the verdict's 0.2 / 0.3 bars).
PBO_WIDE = 0.2


@dataclass(frozen=True)
class PBOSpread:
    """The median PBO over partitions, its range, every run, and the reference run's details."""

    median: float
    low: float
    high: float
    runs: list[dict[str, Any]]
    reference: PBOResult  # the partition with the most blocks at offset 0 (the classic single value)

    @property
    def wide(self) -> bool:
        return bool(self.high - self.low > PBO_WIDE)

    def as_dict(self) -> dict[str, Any]:
        """The report's `pbo` part: `pbo` is the median; the reference run's details stay beside it."""
        return {
            **self.reference.as_dict(),
            "pbo": self.median,
            "pbo_range": [self.low, self.high],
            "pbo_runs": self.runs,
            "spread_wide": self.wide,
            "reference_pbo": self.reference.pbo,
        }


def pbo_spread(
    returns: np.ndarray,
    blocks: Sequence[int] = PBO_BLOCKS,
    offsets: int = PBO_OFFSETS,
    *,
    metric: str = "sharpe",
) -> PBOSpread | None:
    """CSCV PBO of a (bars x configurations) matrix over every feasible partition; None if none fits.

    A block count is feasible when there are at least two rows per block (as CSCV requires).
    """
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        return None
    t = m.shape[0]
    runs: list[dict[str, Any]] = []
    reference: PBOResult | None = None
    for s in sorted({int(b) for b in blocks}):
        if t < 2 * s:
            continue
        for j in range(max(offsets, 1)):
            shift = int(round(j * t / (s * max(offsets, 1))))
            res = probability_of_backtest_overfitting(np.roll(m, -shift, axis=0), s, metric=metric)
            runs.append({"n_blocks": s, "offset_bars": shift, "pbo": res.pbo})
            if j == 0:
                reference = res  # ends as the largest feasible block count
    if reference is None:
        return None
    values = np.array([r["pbo"] for r in runs])
    return PBOSpread(median=float(np.median(values)), low=float(values.min()), high=float(values.max()),
                     runs=runs, reference=reference)

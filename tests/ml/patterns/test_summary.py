"""The patterns part's summary follows the numbers: separated above, separated below, level, too few."""

from __future__ import annotations

import numpy as np

from paiid.ml.patterns.dataset import DataSet
from paiid.ml.patterns.evaluate import historical_rates, summary


def _ds(groups: dict[str, tuple[int, int, float]]) -> DataSet:
    """Rows per type: (cases, successes, matched baseline rate of every case)."""
    types, y, base = [], [], []
    for t, (n, k, b) in groups.items():
        types += [t] * n
        y += [1.0] * k + [0.0] * (n - k)
        base += [b] * n
    m = len(y)
    return DataSet(np.zeros((m, 1)), np.array(y), types, ["candle"] * m, ["SPX"] * m,
                   np.arange(m, dtype=np.int64), np.arange(m, dtype=np.int64) + 10**9 * 86400,
                   np.array(base), [None] * m, np.array(base))


def test_summary_sentences_come_from_the_rates_and_their_intervals() -> None:
    ds = _ds({"candle_good": (400, 240, 0.40), "candle_bad": (400, 80, 0.40),
              "candle_same": (400, 162, 0.40), "candle_rare": (12, 11, 0.40)})
    hist = historical_rates(ds)
    assert hist["candle_good"]["intervals_separate"] and hist["candle_good"]["edge"] > 0
    assert hist["candle_rare"]["shown"] is False and hist["candle_rare"]["success_rate"] == 11 / 12
    lines = summary({"SPX": hist})
    text = "\n".join(lines)
    assert ("SPX: candle_good succeeds 60.0% of 400 resolved cases, above the matched random baseline "
            "40.0%; the 95% intervals separate.") in lines
    assert ("SPX: candle_bad succeeds 20.0% of 400 resolved cases, below the matched random baseline "
            "40.0%; the 95% intervals separate.") in lines
    assert "indistinguishable from matched random entries (95% intervals overlap): candle_same." in text
    assert "1 pattern types have fewer than 30 resolved cases, rate not shown: candle_rare (12)." in text
    assert "SPX: 1 of 3 shown types beat the matched baseline with separated intervals" in text
    assert "candle_rare" not in " ".join(s for s in lines if "beat" in s or "above" in s)

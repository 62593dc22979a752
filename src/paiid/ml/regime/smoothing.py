"""No flicker: the minimum-duration rule that turns per-bar most-probable regimes into reported ones.

A reported regime changes only after a different regime has been the most probable one for
`min_duration` consecutive bars (the detector's default is 3); until then the previous regime stands.
It looks at past bars only, costs at most `min_duration - 1` bars of lag at a true change and removes
one- and two-day blips.
"""

from __future__ import annotations

import numpy as np


def smooth_labels(arg: np.ndarray, min_duration: int) -> tuple[np.ndarray, np.ndarray]:
    """The minimum-duration rule on per-bar argmax indices (past only).

    Returns (reported index per bar, bars since the reported regime began, counting the current bar
    as 1). A new regime is reported once it has been the argmax for `min_duration` consecutive bars;
    its start is then dated to the first of those bars.
    """
    a = arg.tolist()
    n = len(a)
    cur_out = [0] * n
    days_out = [0] * n
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    current = a[0]
    since = 0
    cand = a[0]
    run = 0
    for t in range(n):
        if a[t] == cand:
            run += 1
        else:
            cand, run = a[t], 1
        if cand != current and run >= min_duration:
            current, since = cand, t - run + 1
        cur_out[t] = current
        days_out[t] = t - since + 1
    return np.asarray(cur_out, dtype=np.int64), np.asarray(days_out, dtype=np.int64)

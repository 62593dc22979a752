"""What training the panel models on the whole real universe costs (issue target: < 3 minutes).

Both panel models fitted once on every bundled real daily series as closes (`paiid.ml.panel`):
the selector (its dataset: 23 close-only contexts, four backtests each) and the trade model (every
template entry event with its triple-barrier label). The peer is what the served models cost today:
`paiid train` on SPX alone, in a scratch home.
"""

from __future__ import annotations

import time

from paiid.bench import BenchResult, case
from paiid.bench.api import scratch_home
from paiid.engine import training
from paiid.ml.panel import universe_bars
from paiid.ml.panel.selector import fit_panel_selector
from paiid.ml.panel.trade import fit_panel_trade

#: The issue's target for training on the universe.
TARGET_S = 180.0


@case("universe-training")
def bench_universe_training() -> BenchResult:
    t0 = time.perf_counter()
    bars = universe_bars()
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    fit_panel_selector(bars)
    sel_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    fit_panel_trade(bars)
    trade_s = time.perf_counter() - t2
    ours = time.perf_counter() - t0
    with scratch_home("paiid-bench-universe-"):
        t3 = time.perf_counter()
        training.train_all(["SPX"])
        peer = time.perf_counter() - t3
    return BenchResult(
        name=f"training both panel models on the universe ({len(bars)} real series, closes)",
        ours_s=ours, peer="paiid train on SPX alone (the served models, with their walk-forward checks)",
        peer_s=peer, ratio=peer / ours, target="< 3 min on 2 cores", meets_target=ours < TARGET_S,
        details={"symbols": len(bars), "load_s": load_s, "selector_s": sel_s, "trade_s": trade_s},
    )

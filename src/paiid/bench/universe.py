"""What training the panel models on the whole real universe costs (issue target: < 3 minutes).

Ours is what `paiid train` does for the three close-only kinds on every usable stored daily series as
closes (`paiid.ml.panel.serve`: the close-volatility regime detector, the panel selector with its
walk-forward check and out-of-sample history, the panel trade model with its validation folds), in a
scratch home, registered and promoted; the bare fits of the two evaluated panel models are in the details.
The peer is what the OHLCV models cost: `paiid train` on SPX alone, in a scratch home.
"""

from __future__ import annotations

import time

from paiid.bench import BenchResult, case
from paiid.bench.api import scratch_home
from paiid.engine import training
from paiid.ml.panel import universe_bars
from paiid.ml.panel.selector import fit_panel_selector
from paiid.ml.panel.trade import fit_panel_trade

#: The catalog's close-only kinds, trained on the universe.
PANEL_KINDS = [n for n in training.model_names() if training.is_close_only(n)]
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
    with scratch_home("paiid-bench-universe-"):
        t3 = time.perf_counter()
        res = training.train_all(None, only=PANEL_KINDS)
        ours = time.perf_counter() - t3
    with scratch_home("paiid-bench-universe-"):
        t4 = time.perf_counter()
        training.train_all(["SPX"], only=[n for n in training.model_names() if not training.is_close_only(n)])
        peer = time.perf_counter() - t4
    trained_on = len(res.groups["close_only"]["symbols"])
    return BenchResult(
        name=f"paiid train: the three close-only models on the universe ({trained_on} real series, closes)",
        ours_s=ours, peer="paiid train on SPX alone (the served models, with their walk-forward checks)",
        peer_s=peer, ratio=peer / ours, target="< 3 min on 2 cores", meets_target=ours < TARGET_S,
        details={"symbols": trained_on, "fit_only": {"symbols": len(bars), "load_s": load_s,
                                                      "selector_s": sel_s, "trade_s": trade_s}},
    )

"""Regime benchmarks: the warm market-regime answer against hmmlearn's full posterior on the same model.

Why this peer: hmmlearn's `predict_proba` is the obvious off-the-shelf way to get regime probabilities,
and it runs forward-backward (which also looks ahead); ours runs the forward filter only, plus the
feature frame, the minimum-duration rule and the answer. Same model parameters, same SPX history.
"""

from __future__ import annotations

import warnings

import numpy as np
from hmmlearn.hmm import GaussianHMM

from paiid.bench import BenchResult, best_time, case
from paiid.bench.api import bench_home, percentiles, sequential_latency, serve
from paiid.data import load_bars
from paiid.ml.regime import RegimeDetector, regime_answer, train


def _hmmlearn_peer(model: RegimeDetector, z: np.ndarray) -> GaussianHMM:
    """An hmmlearn HMM holding exactly our fitted parameters (so both compute the same model)."""

    hmm = GaussianHMM(n_components=len(model.startprob_), covariance_type="full")
    hmm.startprob_ = model.startprob_
    hmm.transmat_ = model.transmat_
    hmm.means_ = model.means_
    hmm.covars_ = model.covars_
    hmm.n_features = z.shape[1]
    return hmm


@case("regime")
def bench_regime() -> list[BenchResult]:
    model = train(["SPX"]).model
    bars = load_bars("SPX")
    regime_answer(model, bars, "SPX")  # warm

    def ours() -> None:
        regime_answer(model, load_bars("SPX"), "SPX")

    x = model.inputs(bars)
    z = model.standardise(x[np.isfinite(x).all(axis=1)])
    hmm = _hmmlearn_peer(model, z)

    def peer() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hmm.predict_proba(z)

    ours_s = best_time(ours, repeat=7, number=3)
    peer_s = best_time(peer, repeat=7, number=3)
    filt_s = best_time(lambda: model.filtered_cluster_proba(z), repeat=7, number=3)
    return [
        BenchResult(
            name="market-regime answer, SPX warm (load bars + features + filter + answer)",
            ours_s=ours_s, peer="hmmlearn GaussianHMM.predict_proba (posteriors only)", peer_s=peer_s,
            ratio=peer_s / ours_s, target="< 50 ms", meets_target=ours_s < 0.05,
            details={"bars": len(bars), "filter_only_s": filt_s},
        ),
        BenchResult(
            name="forward filter vs hmmlearn forward-backward, SPX",
            ours_s=filt_s, peer="hmmlearn GaussianHMM.predict_proba", peer_s=peer_s,
            ratio=peer_s / filt_s, target=">= 1x (filter only)", meets_target=peer_s >= filt_s,
            details={"rows": int(len(z))},
        ),
    ]


@case("regime-http")
def bench_regime_http() -> BenchResult:
    """GET /api/ml/market-regime against a real `paiid serve` (models of the user's home, trained if none).

    Every request recomputes the answer (the endpoint has no answer cache), so "warm" means only that
    the model and the bars are already loaded in the worker.
    """

    home, tmp = bench_home()
    try:
        with serve(home) as srv:
            path = "/api/ml/market-regime?symbol=SPX"
            sequential_latency(srv.url, [path] * 10 + ["/health"] * 10)  # load model and bars
            health = percentiles(sequential_latency(srv.url, ["/health"] * 200))
            warm = percentiles(sequential_latency(srv.url, [path] * 200))
    finally:
        tmp.cleanup()
    return BenchResult(
        name="GET /api/ml/market-regime warm, p99, 1 worker (recomputed per request)",
        ours_s=warm["p99"], peer="GET /health p99 (same server, same client)", peer_s=health["p99"],
        ratio=health["p99"] / warm["p99"], target="p99 < 50 ms", meets_target=warm["p99"] < 0.05,
        details={"p50_s": warm["p50"], "health_p50_s": health["p50"], "requests": warm["n"]},
    )

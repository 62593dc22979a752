"""Regime benchmarks: the warm market-regime answer against hmmlearn's full posterior on the same model,
and the bearish label against the statistical jump model (`regime-vs-jump-model`).

Why this peer: hmmlearn's `predict_proba` is the obvious off-the-shelf way to get regime probabilities,
and it runs forward-backward (which also looks ahead); ours runs the forward filter only, plus the
feature frame, the minimum-duration rule and the answer. Same model parameters, same SPX history.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from hmmlearn.hmm import GaussianHMM

from paiid.bench import BenchResult, best_time, case
from paiid.bench.api import bench_home, percentiles, sequential_latency, serve
from paiid.data import load_bars
from paiid.ml.regime import RegimeDetector, regime_answer, train
from paiid.ml.regime.realdata import agreement, yearly_refit_labels

#: Jump penalties tried for the peer (the range its authors report results for, standardised features).
JUMP_PENALTIES = (5.0, 15.0, 30.0)
#: EWMA half-lives of the peer's downside-deviation and Sortino features.
HALF_LIVES = (5, 10, 21)
#: What issue 14 quotes for the peer (Shu, Mulvey et al.): SPX month-ends labelled bear.
PEER_PUBLISHED = {"2000-2002 decline": "100%", "autumn 2008": "100%", "2004-2006 bull": "14-31%"}


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


def jump_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The jump model's published features, causal: log EWMA downside deviation and EWMA Sortino ratio
    of daily log returns at half-lives 5, 10 and 21 bars (Shu, Mulvey et al.)."""
    r = np.log(bars["close"]).diff().fillna(0.0)
    cols = {}
    for hl in HALF_LIVES:
        dd = np.sqrt((np.minimum(r, 0.0) ** 2).ewm(halflife=hl).mean()).clip(lower=1e-8)
        cols[f"dd_log_{hl}"] = np.log(dd)
        cols[f"sortino_{hl}"] = r.ewm(halflife=hl).mean() / dd
    return pd.DataFrame(cols, index=bars.index).iloc[1:]


def jump_labeller(penalty: float):
    """A `realdata` labeller: a two-state jump model fitted on the training series' features (concatenated,
    standardised and clipped on the training rows), read with its online (forward, causal) inference; the
    state with the higher downside deviation is the bear state."""
    from jumpmodels.jump import JumpModel  # benchmark-only peer: not a runtime dependency

    def label(train_series: list[pd.DataFrame], full: dict[str, pd.DataFrame]) -> dict[str, pd.Series]:
        feats = [jump_features(b) for b in train_series]
        x = pd.concat(feats, ignore_index=True)
        mu, sd = x.mean(), x.std().replace(0.0, 1.0)
        z = ((x - mu) / sd).clip(-3, 3)
        ret = pd.concat([np.log(b["close"]).diff().iloc[1:] for b in train_series], ignore_index=True)
        jm = JumpModel(n_components=2, jump_penalty=penalty, random_state=0).fit(z.to_numpy(), ret.to_numpy())
        # the bear state: the one whose centre has the higher downside deviation (the authors' reading)
        bear_state = int(np.argmax(np.asarray(jm.centers_)[:, list(x.columns).index("dd_log_10")]))
        out = {}
        for sym, b in full.items():
            f = jump_features(b)
            lab = np.asarray(jm.predict_online(((f - mu) / sd).clip(-3, 3).to_numpy()))
            flag = pd.Series(np.nan, index=b.index)
            flag.loc[f.index] = (lab == bear_state).astype(float)
            flag.iloc[: 60] = np.nan  # EWMA warm-up (a few half-lives of the longest one)
            out[sym] = flag
        return out

    return label


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    return {"criterion_bear_labelled_bearish": report["criterion_bear"]["share_labelled_bearish"],
            "criterion_bull_labelled_bearish": report["criterion_bull"]["share_labelled_bearish"],
            "month_ends_bearish": {k: v["share_bearish"] for k, v in report["month_ends"].items()}}


@case("regime-vs-jump-model")
def bench_regime_vs_jump_model() -> list[BenchResult]:
    """Ours against jumpmodels 0.1.1 on the published criteria of `paiid.ml.regime.realdata`, both refitted
    on SPX and GOOG bars up to every year-end and labelling the next year causally. Skipped (one row saying
    so) when jumpmodels is not installed: it is a benchmark-only peer (the `bench` extra)."""
    symbols = ("SPX", "GOOG")
    t0 = time.perf_counter()
    ours = yearly_refit_labels(symbols)
    ours_s = time.perf_counter() - t0
    bars = {s: load_bars(s) for s in symbols}
    ours_rep = {s: _brief(agreement(bars[s], ours[s])) for s in symbols}
    try:
        import jumpmodels  # noqa: F401
    except ImportError:
        return [BenchResult(name="bearish label vs statistical jump model (skipped: pip install jumpmodels)",
                            ours_s=ours_s, details={"ours": ours_rep})]
    rows = []
    for penalty in JUMP_PENALTIES:
        t0 = time.perf_counter()
        peer = yearly_refit_labels(symbols, labeller=jump_labeller(penalty))
        peer_s = time.perf_counter() - t0
        peer_rep = {s: _brief(agreement(bars[s], peer[s])) for s in symbols}
        o, p = ours_rep["SPX"]["month_ends_bearish"], peer_rep["SPX"]["month_ends_bearish"]
        declines_ok = all((o[k] or 0.0) >= (p[k] or 0.0) - 1e-9 for k in ("2000-2002 decline", "autumn 2008"))
        bull_ok = (o["2004-2006 bull"] or 0.0) < (p["2004-2006 bull"] or 0.0)
        rows.append(BenchResult(
            name=f"bearish month-ends, yearly point-in-time refits, SPX: ours vs jump model "
                 f"(penalty {penalty:g})",
            ours_s=ours_s, peer=f"jumpmodels 0.1.1 JumpModel(2 states, jump_penalty={penalty:g}), "
                                "downside deviation + Sortino at half-lives 5/10/21",
            peer_s=peer_s, ratio=peer_s / ours_s,
            target="at least the peer's bearish month-end share in 2000-02 and autumn 2008, less in 2004-06",
            meets_target=declines_ok and bull_ok,
            # which half of the target fails, when one does: under these point-in-time refits the peer
            # labels no SPX 2004-06 month-end bearish (its published 14-31 % come from other fits), so
            # "less in 2004-06" cannot be met by any labeller while it is at 0 %
            details={"ours": ours_rep, "peer": peer_rep, "declines_met": declines_ok,
                     "bull_years_met": bull_ok, "peer_published": PEER_PUBLISHED},
        ))
    return rows

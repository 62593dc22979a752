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
from paiid.ml.regime.realdata import MONTH_END_WINDOWS, agreement, yearly_refit_labels

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


#: Leading rows of every series left out of the jump model's training: the EWMA warm-up (about three
#: half-lives of the longest, 21). Their first days have no down day yet, so the downside deviation is ~0
#: and the Sortino ratio ~1e6 there; kept in, those two rows set the training mean and standard deviation
#: and leave every other Sortino value standardised to about -0.04 (measured on SPX), i.e. the peer
#: then clustered on downside deviation alone (and labelled no 2004-06 month-end bearish).
JUMP_WARMUP = 60


def jump_features(bars: pd.DataFrame) -> pd.DataFrame:
    """The jump model's published features, causal: log EWMA downside deviation and EWMA Sortino ratio
    of daily returns at half-lives 5, 10 and 21 bars (Shu, Mulvey et al.). Simple returns
    (``close.pct_change()``), as the package's own example data (``examples/nasdaq/get_data.py``)."""
    r = bars["close"].pct_change().fillna(0.0)
    cols = {}
    for hl in HALF_LIVES:
        dd = np.sqrt((np.minimum(r, 0.0) ** 2).ewm(halflife=hl).mean()).clip(lower=1e-8)
        cols[f"dd_log_{hl}"] = np.log(dd)
        cols[f"sortino_{hl}"] = r.ewm(halflife=hl).mean() / dd
    return pd.DataFrame(cols, index=bars.index).iloc[1:]


def jump_labeller(penalty: float):
    """A `realdata` labeller: the package's documented recipe (its ``examples/nasdaq`` notebook), point
    in time. Fitted on the training series' features after their EWMA warm-up (`JUMP_WARMUP`), clipped
    at 3 standard deviations and then standardised on those rows (``DataClipperStd(mul=3)`` then
    ``StandardScalerPD``), states sorted with ``fit(..., ret_ser=daily returns, sort_by="cumret")`` so
    that state 1 (the lower cumulative return) is the bear state, and read with ``predict_online`` (the
    label of day t from rows up to t only: the last state of the optimal path of the data to date).
    ``predict`` (the smoothed path over the whole sequence) would let later days revise earlier labels,
    so it is not used. The bench calls it once per symbol: the authors fit one model per index.

    Measured on SPX (study for issue 14, penalties 5/15/30): this labeller gives 86/76/67 % of the
    2000-02 decline month-ends (2000 itself unlabelled: SPX here starts in 1999), 100 % of autumn 2008
    and 6/6/3 % of 2004-06. The authors' 11-year training window cannot be had (a rolling 11-year
    window equals this expanding one up to 2010). One fit on all of 1999-2018 read the same online way
    gives 94/94/97, 100 and 28/31/14 %, i.e. the published 14-31 %; its parameters have seen the later
    years, so it is not point in time and is not used."""
    from jumpmodels.jump import JumpModel  # benchmark-only peer: not a runtime dependency
    from jumpmodels.preprocess import DataClipperStd, StandardScalerPD

    def label(train_series: list[pd.DataFrame], full: dict[str, pd.DataFrame]) -> dict[str, pd.Series]:
        x = pd.concat([jump_features(b).iloc[JUMP_WARMUP:] for b in train_series], ignore_index=True)
        ret = pd.concat([b["close"].pct_change().iloc[1:].iloc[JUMP_WARMUP:] for b in train_series],
                        ignore_index=True)
        clipper = DataClipperStd(mul=3.0).fit(x)
        scaler = StandardScalerPD().fit(clipper.transform(x))
        jm = JumpModel(n_components=2, jump_penalty=penalty, random_state=0)
        jm.fit(scaler.transform(clipper.transform(x)), ret, sort_by="cumret")
        out = {}
        for sym, b in full.items():
            f = jump_features(b)
            lab = np.asarray(jm.predict_online(scaler.transform(clipper.transform(f))))
            flag = pd.Series(np.nan, index=b.index)
            flag.loc[f.index] = (lab == 1).astype(float)  # 1: the state of lower cumulative return
            flag.iloc[:JUMP_WARMUP] = np.nan
            out[sym] = flag
        return out

    return label


def _brief(report: dict[str, Any]) -> dict[str, Any]:
    return {"criterion_bear_labelled_bearish": report["criterion_bear"]["share_labelled_bearish"],
            "criterion_bull_labelled_bearish": report["criterion_bull"]["share_labelled_bearish"],
            "month_ends_bearish": {k: v["share_bearish"] for k, v in report["month_ends"].items()},
            "month_ends": report["month_ends"]}


def paired_month_ends(ours: pd.Series, peer: pd.Series) -> dict[str, dict[str, Any]]:
    """Per month-end window, the month-ends only one labeller calls bearish and an exact McNemar p-value
    (two-sided binomial test of the discordant pairs). Why paired: both label the same few dozen
    month-ends, so a gap of one or two of them says little; this says how little."""
    from scipy.stats import binomtest

    both = pd.DataFrame({"ours": ours, "peer": peer})
    # the month's last day, then only the month-ends both labelled (as `agreement` counts them)
    me = both.groupby(both.index.to_period("M")).tail(1).dropna()
    out: dict[str, dict[str, Any]] = {}
    for name, start, end in MONTH_END_WINDOWS:
        w = me.loc[start:end]
        if w.empty:
            continue
        only_ours = w.index[(w["ours"] == 1) & (w["peer"] == 0)]
        only_peer = w.index[(w["ours"] == 0) & (w["peer"] == 1)]
        k = len(only_ours) + len(only_peer)
        p = float(binomtest(len(only_ours), k, 0.5).pvalue) if k else 1.0
        out[name] = {"month_ends": int(len(w)),
                     "only_ours_bearish": [d.date().isoformat() for d in only_ours],
                     "only_peer_bearish": [d.date().isoformat() for d in only_peer],
                     "p_value": p, "significant": p < 0.05}
    return out


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
        # one model per index, as the authors fit them (each symbol's own bars up to every year-end)
        peer = {s: yearly_refit_labels((s,), labeller=jump_labeller(penalty))[s] for s in symbols}
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
            # which half of the target fails, when one does (the published 14-31 % of 2004-06 are about
            # what a hindsight fit on the whole history gives; point in time the peer is lower, see
            # `jump_labeller`)
            details={"ours": ours_rep, "peer": peer_rep, "declines_met": declines_ok,
                     "bull_years_met": bull_ok, "peer_published": PEER_PUBLISHED,
                     "paired": {s: paired_month_ends(ours[s], peer[s]) for s in symbols}},
        ))
    return rows

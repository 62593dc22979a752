"""`paiid retrain`: retrain on the data stored so far, promote a candidate only if it is better.

Why not just `paiid train` on a schedule: a new version is not automatically a better one (a bad week
of data, a bug, a regime the new fit over-weights). So for every model, in the trainers' dependency
order:

1. **Holdout.** Preferably the bars that arrived after the serving version was trained, when every
   symbol has at least `min_new_bars` of them: neither model has seen those. Otherwise the most
   recent `holdout_bars` bars of every symbol (one cutoff date shared by all symbols).
2. **Challenger.** The trainer is run on the data *before* the cutoff (`paiid.data.as_of`): a model that
   never saw the holdout. The serving version (the champion) is loaded from the registry.
3. **Same test.** The model area's holdout scorer (`HOLDOUT_SCORERS`, below) scores both on the
   holdout. If the champion's training data reached into the holdout it is scored there anyway and
   the report says so: that favours the champion, so the test stays conservative.
4. **Decision.** The full candidate (trained on everything, `promote=False`) is always registered,
   so it can be inspected or promoted by hand; it is promoted only when the challenger beat the
   champion by more than `min_improvement`. A model with no serving version yet is trained and
   promoted (nothing to compare against).

Triggers (`--if-drift`): retraining runs only when something moved —

* **Feature drift**, population stability index per feature: the serving model's training window
  against the most recent `recent_bars` bars. PSI = Σ (a − e) ln(a / e) over the training window's
  deciles; < 0.1 stable, 0.1–0.25 moderate, > 0.25 a shift worth acting on (the credit-scoring
  convention; the threshold is an option).
* **Live accuracy drop**, from the prediction log (`paiid.engine.tracking.performance_report`): the
  serving version's resolved directional calls are significantly less accurate than the naive
  always-long call on the same rows (one-sided z-test), with at least `min_resolved` of them.

Each ML area's holdout scorer is listed with its model in `paiid.engine.catalog`, which also gives
its interface.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from paiid.data import as_of, load_bars
from paiid.engine import registry, training
from paiid.engine.catalog import MODELS
from paiid.engine.tracking import performance_report
from paiid.errors import BadInput, ModelError, NotEnoughHistory, PaiidError
from paiid.features import SCALE_FREE, build_features
from paiid.jsonutil import to_jsonable
from paiid.progress import note, track

#: model name -> its area's holdout scorer (see `paiid.engine.catalog`).
HOLDOUT_SCORERS: dict[str, Callable[..., dict[str, Any]]] = {
    name: kind.holdout_score for name, kind in MODELS.items()
}

PSI_BINS = 10
PSI_MODERATE = 0.1
PSI_SIGNIFICANT = 0.25
#: Default recent window for drift: about a quarter of daily bars.
RECENT_BARS = 63
#: Default holdout for the champion/challenger test: about a year of daily bars.
HOLDOUT_BARS = 250
MIN_RESOLVED = 30
#: New bars per symbol since the serving version's training needed to use them as the holdout.
MIN_NEW_BARS = 60


# -------------------------------------------------------------------------------------------- drift


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = PSI_BINS, eps: float = 1e-4) -> float:
    """Population stability index of `actual` against `expected` (NaNs dropped).

    Bin edges are the deciles of `expected`, so each bin holds ~1/bins of it; empty bins get `eps`
    so one empty bin cannot make the index infinite.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    e, a = e[np.isfinite(e)], a[np.isfinite(a)]
    if len(e) < bins or len(a) == 0:
        return float("nan")
    edges = np.unique(np.quantile(e, np.linspace(0, 1, bins + 1)[1:-1]))
    pe = np.bincount(np.searchsorted(edges, e, side="right"), minlength=len(edges) + 1) / len(e)
    pa = np.bincount(np.searchsorted(edges, a, side="right"), minlength=len(edges) + 1) / len(a)
    pe, pa = np.maximum(pe, eps), np.maximum(pa, eps)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def _training_windows(meta: Mapping[str, Any]) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """symbol -> (first, last) bar a model was trained on, from its `data` metadata (list or dict)."""
    data = meta.get("data") or []
    rows = list(data.values()) if isinstance(data, dict) else list(data)
    out = {}
    for r in rows:
        if isinstance(r, dict) and {"symbol", "first", "last"} <= set(r):
            out[str(r["symbol"])] = (pd.Timestamp(r["first"]), pd.Timestamp(r["last"]))
    return out


def _drift_table(
    windows: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]], names: list[str] | None, recent_bars: int,
) -> dict[str, Any]:
    expected: dict[str, list[np.ndarray]] = {}
    actual: dict[str, list[np.ndarray]] = {}
    used = []
    for sym, (first, last) in windows.items():
        try:
            bars = load_bars(sym)
        except PaiidError:
            continue  # a symbol deleted since training: nothing to compare
        feats = build_features(bars)
        cols = [c for c in (names or SCALE_FREE) if c in feats.columns] or list(SCALE_FREE)
        recent_start = bars.index[max(0, len(bars) - recent_bars)]
        # Training rows strictly before the recent window, so the two samples never share a bar.
        train = feats.loc[(feats.index >= first) & (feats.index <= last) & (feats.index < recent_start), cols]
        recent = feats.iloc[-recent_bars:][cols]
        if len(train.dropna(how="all")) < 5 * PSI_BINS:
            continue
        used.append({"symbol": sym, "training": [first, min(last, train.index[-1])],
                     "recent": [recent.index[0], recent.index[-1]]})
        for c in cols:
            expected.setdefault(c, []).append(train[c].to_numpy())
            actual.setdefault(c, []).append(recent[c].to_numpy())
    values = {c: psi(np.concatenate(expected[c]), np.concatenate(actual[c])) for c in expected}
    values = {c: v for c, v in values.items() if math.isfinite(v)}
    return {"symbols": used, "psi": dict(sorted(values.items(), key=lambda kv: -kv[1]))}


def feature_drift(
    names: list[str] | None = None, *, recent_bars: int = RECENT_BARS, threshold: float = PSI_SIGNIFICANT,
) -> dict[str, Any]:
    """PSI per input feature of every serving model (or `names`): training window vs recent bars.

    A model whose features are not columns of the feature frame (e.g. its own derived inputs) is
    checked on the scale-free frame columns instead, which is what all its inputs are built from.
    """
    models = {}
    for name in names or registry.model_names():
        try:
            info = registry.describe(name, registry.promoted_version(name))
        except (ModelError, BadInput, TypeError):
            continue
        windows = _training_windows(info.metadata)
        if not windows:
            models[name] = {"version": info.version, "status": "no training window recorded"}
            continue
        table = _drift_table(windows, list(info.metadata.get("features") or []), recent_bars)
        drifted = [c for c, v in table["psi"].items() if v > threshold]
        models[name] = {
            "version": info.version,
            "max_psi": max(table["psi"].values(), default=None),
            "drifted": drifted,
            "moderate": [c for c, v in table["psi"].items() if PSI_MODERATE < v <= threshold],
            **table,
        }
    return to_jsonable({
        "threshold": threshold,
        "recent_bars": recent_bars,
        "scale": f"PSI < {PSI_MODERATE} stable, {PSI_MODERATE}-{PSI_SIGNIFICANT} moderate, "
                 f"> {PSI_SIGNIFICANT} significant",
        "models": models,
        "any_drift": any(m.get("drifted") for m in models.values()),
    })


def accuracy_drops(
    report: Mapping[str, Any] | None = None, *, min_resolved: int = MIN_RESOLVED, alpha: float = 0.05,
) -> dict[str, Any]:
    """Serving versions whose live accuracy is significantly below the always-long call.

    One-sided z-test of the hit rate against the baseline's rate on the same resolved rows; fewer
    than `min_resolved` rows are reported but never flagged (too little evidence either way).
    """
    if report is None:
        report = performance_report()
    rows = []
    for row in report.get("by_model", []):
        name, version = row.get("model"), row.get("version")
        if name is None or version is None or registry.promoted_version(name) != version:
            continue
        n = int(row.get("resolved") or 0)
        acc, base = row.get("accuracy"), row.get("baseline_always_long")
        out = {"model": name, "version": version, "resolved": n, "accuracy": acc, "baseline": base,
               "drop": False}
        if acc is not None and base is not None and n >= min_resolved:
            ref = min(max(base, 1e-6), 1 - 1e-6)
            z = (acc - ref) / math.sqrt(ref * (1 - ref) / n)
            p = float(stats.norm.cdf(z))
            out.update(z=float(z), p_value=p, drop=bool(p < alpha))
        rows.append(out)
    return to_jsonable({"min_resolved": min_resolved, "alpha": alpha, "models": rows,
                        "any_drop": any(r["drop"] for r in rows)})


def check(
    *,
    recent_bars: int = RECENT_BARS,
    psi_threshold: float = PSI_SIGNIFICANT,
    min_resolved: int = MIN_RESOLVED,
) -> dict[str, Any]:
    """Drift and live-accuracy checks together, and whether they call for a retrain (a model with no
    registered version at all also does: there is nothing serving)."""
    drift = feature_drift(recent_bars=recent_bars, threshold=psi_threshold)
    drops = accuracy_drops(min_resolved=min_resolved)
    missing = training.missing_models()
    reasons = [f"no registered {name} model" for name in missing]
    reasons += [f"feature drift in {name}: {', '.join(m['drifted'][:5])}"
               for name, m in drift["models"].items() if m.get("drifted")]
    reasons += [f"live accuracy drop of {r['model']} v{r['version']}: {r['accuracy']:.3f} vs always-long "
                f"{r['baseline']:.3f} over {r['resolved']} calls" for r in drops["models"] if r["drop"]]
    return {"drift": drift, "live_accuracy": drops, "missing": missing, "triggered": bool(reasons),
            "reasons": reasons}


# -------------------------------------------------------------------------------------- retraining


def holdout_cutoff(bars: Mapping[str, pd.DataFrame], holdout_bars: int) -> pd.Timestamp:
    """The first holdout date: every symbol keeps at least `holdout_bars` bars from it on."""
    starts = [b.index[-holdout_bars] for b in bars.values() if len(b) > holdout_bars]
    if not starts:
        longest = max((len(b) for b in bars.values()), default=0)
        raise NotEnoughHistory(f"a {holdout_bars}-bar holdout", holdout_bars + 1, longest)
    return min(starts)


def _better(cand: Mapping[str, Any], champ: Mapping[str, Any], min_improvement: float) -> bool:
    c, s = cand.get("value"), champ.get("value")
    if c is None or s is None or not (math.isfinite(c) and math.isfinite(s)):
        return False
    gain = (c - s) if cand.get("higher_is_better", True) else (s - c)
    return gain > min_improvement


def _serving(name: str) -> tuple[Any, registry.ModelInfo] | None:
    if not registry.has_model(name):
        return None
    try:
        return registry.load_serving(name)
    except ModelError:
        return None


def retrain(
    symbols: list[str] | None = None,
    *,
    seed: int = 0,
    only: list[str] | None = None,
    holdout_bars: int = HOLDOUT_BARS,
    min_improvement: float = 0.0,
    if_drift: bool = False,
    recent_bars: int = RECENT_BARS,
    psi_threshold: float = PSI_SIGNIFICANT,
    min_resolved: int = MIN_RESOLVED,
    min_new_bars: int = MIN_NEW_BARS,
) -> dict[str, Any]:
    """Retrain every model (or `only`), promoting each candidate only if it wins on the holdout.

    With `if_drift`, nothing is trained unless `check()` finds drift or a live-accuracy drop.
    """
    report: dict[str, Any] = {"checks": check(recent_bars=recent_bars, psi_threshold=psi_threshold,
                                              min_resolved=min_resolved)}
    report["triggered_by"] = report["checks"]["reasons"] if if_drift else ["requested"]
    if if_drift and not report["checks"]["triggered"]:
        report.update(retrained=False, models=[],
                      message="no feature drift and no live-accuracy drop: nothing retrained")
        return to_jsonable(report)

    names = training.model_names(only)
    # each kind of model (OHLCV, close-only panel) on its own universe and its own holdout
    groups = training.select_groups(symbols, names)
    universe = {k: (syms, {s: load_bars(s) for s in syms}) for k, (syms, _) in groups.items()}
    cutoffs = {k: holdout_cutoff(b, holdout_bars) for k, (_, b) in universe.items()}
    first = min(universe)  # the OHLCV kind when this run trains it (False < True)
    report.update(symbols=universe[first][0], seed=seed,
                  holdout={"start": cutoffs[first], "bars": holdout_bars, "min_new_bars": min_new_bars},
                  min_improvement=min_improvement)
    if len(universe) > 1:
        report["close_only_models"] = {"symbols": universe[True][0], "holdout_start": cutoffs[True]}
    results = []
    with training.training_lock():
        for name in track(names, "retraining"):
            k = training.is_close_only(name)
            syms, bars = universe[k]
            results.append(_retrain_one(name, syms, bars, cutoffs[k], min_new_bars, seed, min_improvement))
    report.update(retrained=True, models=results,
                  promoted=[r["name"] for r in results if r.get("promoted")])
    return to_jsonable(report)


def _holdout_for(
    champion: registry.ModelInfo,
    bars: Mapping[str, pd.DataFrame],
    fixed_cutoff: pd.Timestamp,
    min_new_bars: int,
) -> tuple[pd.Timestamp, str]:
    """The bars after the champion's training data if every symbol has `min_new_bars` of them, else
    the fixed most-recent holdout (which the champion then partly saw: that favours it)."""
    windows = _training_windows(champion.metadata)
    if windows:
        last = max(w[1] for w in windows.values())
        fresh = [b.index[b.index > last] for b in bars.values()]
        if all(len(f) >= min_new_bars for f in fresh):
            return min(f[0] for f in fresh), f"new since the serving version's data (after {last.date()})"
    return fixed_cutoff, "most recent bars (the serving version was trained on some of them: favours it)"


def _deps_for(name: str) -> dict[str, tuple[Any, registry.ModelInfo]]:
    """Serving versions of the models `name` depends on (after this run's promotions)."""
    order = list(training.TRAINERS)
    out = {}
    for earlier in order[: order.index(name)]:
        if training.is_close_only(earlier) != training.is_close_only(name):
            continue  # a panel model never reads an OHLCV model, nor the reverse
        served = _serving(earlier)
        if served is not None:
            out[earlier] = served
    return out


def _retrain_one(
    name: str, syms: list[str], bars: dict[str, pd.DataFrame], fixed_cutoff: pd.Timestamp, min_new_bars: int,
    seed: int, min_improvement: float,
) -> dict[str, Any]:
    deps = _deps_for(name)
    champion = _serving(name)
    out: dict[str, Any] = {"name": name, "serving_version": champion[1].version if champion else None}
    if champion is not None:
        scorer = HOLDOUT_SCORERS[name]
        cutoff, kind = _holdout_for(champion[1], bars, fixed_cutoff, min_new_bars)
        before = cutoff - pd.Timedelta(1, "ns")
        note(f"{name}: fitting the challenger on bars before {cutoff.date()}")
        dep_models = {k: m for k, (m, _) in deps.items()}
        with as_of(before):  # the trainer loads its own bars: it never sees the holdout
            challenger = training.run_trainer(name, syms, seed=seed, deps=dep_models)
        cand_score = dict(scorer(challenger.model, bars, cutoff, deps=dep_models))
        try:
            champ_score = dict(scorer(champion[0], bars, cutoff, deps=dep_models))
        except (ModelError, ValueError) as exc:  # e.g. trained on an older feature set
            champ_score = {"value": None, "error": f"{type(exc).__name__}: {exc}"}
        trained_to = [w[1] for w in _training_windows(champion[1].metadata).values()]
        out["holdout"] = {
            "start": cutoff,
            "kind": kind,
            "challenger": cand_score,
            "champion": champ_score,
            "challenger_trained_to": max((w[1] for w in _training_windows(challenger.metadata).values()),
                                         default=None),
            "champion_saw_holdout": bool(trained_to) and max(trained_to) >= cutoff,
        }
    note(f"{name}: training the candidate on all data")
    info = training.train_one(name, syms, seed=seed, deps=deps, promote=False)
    out["candidate_version"] = info.version
    if champion is None:
        registry.promote(name, info.version)
        return {**out, "status": "promoted", "promoted": True, "reason": "no serving version to compare with"}
    if "error" in out["holdout"]["champion"]:
        registry.promote(name, info.version)
        return {**out, "status": "promoted", "promoted": True,
                "reason": "the serving version cannot be scored on today's data: "
                          + out["holdout"]["champion"]["error"]}
    if _better(out["holdout"]["challenger"], out["holdout"]["champion"], min_improvement):
        registry.promote(name, info.version)
        return {**out, "status": "promoted", "promoted": True,
                "reason": "the challenger beat the serving version on the holdout"}
    return {**out, "status": "kept", "promoted": False,
            "reason": "the challenger did not beat the serving version on the holdout"}

"""The `pattern_scorer` model: historical success-rate tables plus a hybrid rule + ML confidence score.

Rule part: each pattern type's historical success rate (target before stop within the horizon),
shrunk towards its kind's rate when the type has few cases. ML part: a regularised logistic
regression that starts from the rule's log-odds (an input feature) and corrects it with the
detection's geometry (height, width, asymmetry, breakout strength, target/stop distances in ATRs)
and its context at the confirmation bar (trend, volatility, volume from `build_features`).

Every score reported for it is walk-forward (`paiid.data.PurgedWalkForward`, labels purged by the bar
their outcome became known) and sits next to two baselines: the base rate and the rule alone.
Point in time: the tables, baselines and model count only detections whose outcome resolved within the
bars the trainer loaded (`dataset`), so a scorer trained under `paiid.data.repository.as_of(B)` knows no
outcome from after B. Rates rest on at least `rates.MIN_RESOLVED_CASES` resolved cases or are withheld.
The fitted `typicality_` (a `paiid.ml.typicality.Typicality` on the training rows' market context) lets
an answer say when today's market is unlike anything the tables were built on.
Fitted state is numpy arrays, floats, lists, dicts and that Typicality only, so skops can store it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from paiid.data import PurgedWalkForward, load_bars
from paiid.data.splits import label_end_rows
from paiid.errors import NotEnoughHistory
from paiid.metrics import auc, brier
from paiid.ml.base import Trained, data_fingerprint
from paiid.ml.patterns.candidate import ChartParams
from paiid.ml.patterns.dataset import DataSet, pooled_dataset, symbol_dataset
from paiid.ml.patterns.outcomes import HORIZON
from paiid.ml.patterns.rates import MIN_RESOLVED_CASES, rate_block
from paiid.ml.patterns.scan import CONTEXT_SLICE, FEATURES, typicality_inputs
from paiid.ml.typicality import Typicality

DEFAULT_SYMBOLS = ["SPX", "GOOG"]


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


class PatternScorer:
    """Success-rate tables and the confidence model (scikit-learn conventions; state ends in `_`).

    A table row is [cases, successes, random-entry sum, random-entry cases, matched-baseline sum,
    matched-baseline cases], counting resolved detections only. `typicality_` is fitted on the training
    rows' market context (`scan.typicality_inputs`), `resolved_through_` is the last date an outcome
    counted in the tables became known (ISO, or None when fitted without `resolved_time`).
    """

    #: Bump whenever the learned state changes shape: the registry refuses files saved with another.
    STATE_VERSION: ClassVar[int] = 2

    def __init__(self, C: float = 0.05, prior_strength: float = 20.0,
                 min_symbol_cases: int = MIN_RESOLVED_CASES):
        self.C = C
        self.prior_strength = prior_strength
        self.min_symbol_cases = min_symbol_cases

    # ----- rule part -------------------------------------------------------------------------------
    def _kind_rate(self, kind: str) -> float:
        return float(self.kind_rate_.get(kind, self.base_rate_))

    def prior(self, types: list[str], kinds: list[str]) -> np.ndarray:
        """Shrunk per-type success rate: (successes + a * kind rate) / (cases + a)."""
        a = self.prior_strength
        out = np.empty(len(types))
        for i, (t, k) in enumerate(zip(types, kinds, strict=True)):
            n, s = self.type_table_.get(t, [0.0] * 6)[:2]
            out[i] = (s + a * self._kind_rate(k)) / (n + a)
        return out

    def success_rate(self, type_: str, kind: str, symbol: str | None = None) -> dict[str, Any]:
        """The historical rate a user sees: the symbol's own when it has enough resolved cases, else all
        symbols'; with its Wilson interval and matched baseline, withheld below `MIN_RESOLVED_CASES`
        (`rates.rate_block`), plus `scope`, `cases` and the old `random_entry_rate`."""
        sym_row = self.symbol_tables_.get(symbol or "", {}).get(type_)
        if sym_row is not None and sym_row[0] >= self.min_symbol_cases:
            row, scope = sym_row, symbol
        else:
            row, scope = self.type_table_.get(type_), "all training symbols"
        if row is None:
            row, scope = [0.0] * 6, "all training symbols"
        n, s, rnd, rnd_n, mat, mat_n = row
        block = rate_block(n, s, mat, mat_n, through=self.resolved_through_)
        return {**block, "rate": block["success_rate"], "cases": int(n), "scope": scope,
                "random_entry_rate": rnd / rnd_n if rnd_n else None}

    # ----- fit / predict ---------------------------------------------------------------------------
    def fit(
        self, X: np.ndarray, types: list[str], kinds: list[str], symbols: list[str], y: np.ndarray,
        random_rate: np.ndarray | None = None, matched_rate: np.ndarray | None = None,
        resolved_time: np.ndarray | None = None,
    ) -> PatternScorer:
        """Fit tables and model on resolved detections (y in {0, 1}, no NaN; the caller drops unresolved
        ones, see `dataset`). `resolved_time` (ns) dates the tables' last counted outcome."""
        y = np.asarray(y, dtype=np.float64)
        nan = np.full(len(y), np.nan)
        rnd = np.asarray(random_rate if random_rate is not None else nan, dtype=np.float64)
        mat = np.asarray(matched_rate if matched_rate is not None else nan, dtype=np.float64)
        self.base_rate_ = float(y.mean()) if len(y) else 0.5
        self.kind_rate_ = {k: float(y[np.array(kinds) == k].mean()) for k in sorted(set(kinds))}
        self.type_table_ = rate_table(types, y, rnd, mat)
        sym = np.array(symbols)
        self.symbol_tables_ = {
            s: rate_table([t for t, ss in zip(types, symbols, strict=True) if ss == s], y[sym == s],
                      rnd[sym == s], mat[sym == s])
            for s in sorted(set(symbols))
        }
        self.resolved_through_ = (
            pd.Timestamp(int(np.max(resolved_time))).isoformat()
            if resolved_time is not None and len(resolved_time) else None
        )
        self.feature_names_ = list(FEATURES) + ["prior_logit"]
        self.medians_ = np.nan_to_num(np.nanmedian(X, axis=0) if len(X) else np.zeros(X.shape[1]))
        ctx = typicality_inputs(X[:, CONTEXT_SLICE])
        complete = int(np.isfinite(ctx).all(axis=1).sum())
        self.typicality_ = Typicality().fit(ctx) if complete >= 50 else None
        # Leave-one-out prior for the training rows, so the model cannot lean on a row's own label.
        a = self.prior_strength
        prior = np.empty(len(y))
        for i, (t, k) in enumerate(zip(types, kinds, strict=True)):
            n, s = self.type_table_[t][:2]
            prior[i] = (s - y[i] + a * self._kind_rate(k)) / (n - 1 + a)
        Z = self._inputs(X, prior)
        self.mean_ = Z.mean(axis=0)
        self.scale_ = np.where(Z.std(axis=0) > 1e-12, Z.std(axis=0), 1.0)
        if len(set(y.tolist())) < 2:
            self.coef_ = np.zeros(Z.shape[1])
            self.intercept_ = float(_logit(self.base_rate_))
            return self
        lr = LogisticRegression(C=self.C, max_iter=2000)
        lr.fit((Z - self.mean_) / self.scale_, y)
        self.coef_ = lr.coef_.ravel().astype(np.float64)
        self.intercept_ = float(lr.intercept_[0])
        return self

    def _inputs(self, X: np.ndarray, prior: np.ndarray) -> np.ndarray:
        X = np.where(np.isnan(X), self.medians_, X)
        return np.column_stack([X, _logit(prior)])

    def predict_proba(self, X: np.ndarray, types: list[str], kinds: list[str]) -> np.ndarray:
        """Probability that each detection reaches its target before its stop."""
        if len(X) == 0:
            return np.zeros(0)
        Z = (self._inputs(X, self.prior(types, kinds)) - self.mean_) / self.scale_
        Z = np.clip(Z, -5.0, 5.0)  # inputs far outside training (a strange new symbol) must not saturate
        return 1.0 / (1.0 + np.exp(-(Z @ self.coef_ + self.intercept_)))


def rate_table(types: list[str], y: np.ndarray, rnd: np.ndarray, mat: np.ndarray) -> dict[str, list[float]]:
    """type -> [cases, successes, random sum, random cases, matched sum, matched cases] as plain floats;
    a baseline that resolved for none of a detection's draws (NaN) is left out of its sums."""
    out: dict[str, list[float]] = {}
    for t, yi, ri, mi in zip(types, y, rnd, mat, strict=True):
        row = out.setdefault(t, [0.0] * 6)
        row[0] += 1.0
        row[1] += float(yi)
        if np.isfinite(ri):
            row[2] += float(ri)
            row[3] += 1.0
        if np.isfinite(mi):
            row[4] += float(mi)
            row[5] += 1.0
    return out


def walk_forward_scores(ds: DataSet, *, n_splits: int = 5, **scorer_kw: Any) -> dict[str, Any]:
    """Out-of-sample AUC and Brier of the scorer vs the base rate and the rule alone.

    Rows are detections in time order; each row's label ends when its outcome is known, and training
    rows whose outcome is only known inside the test window are purged (`label_end`).
    """
    n = len(ds)
    if n < 50:
        raise NotEnoughHistory("walk-forward scoring of the pattern scorer", 50, n)
    cv = PurgedWalkForward(n_splits, min_train=n // 3, label_end=label_end_rows(ds.time, ds.resolved_time))
    p_ml, p_rule, p_base, ys, chart = [], [], [], [], []
    for train, test in cv.split(ds.X):
        tr, te = ds.subset(train), ds.subset(test)
        if len(tr) < 20:
            continue
        model = PatternScorer(**scorer_kw).fit(tr.X, tr.types, tr.kinds, tr.symbols, tr.y, tr.random_rate,
                                               tr.matched_rate, tr.resolved_time)
        p_ml.append(model.predict_proba(te.X, te.types, te.kinds))
        p_rule.append(model.prior(te.types, te.kinds))
        p_base.append(np.full(len(te), model.base_rate_))
        ys.append(te.y)
        chart.append(np.array([k == "chart" for k in te.kinds]))
    pm, pr, pb, yy, ch = (np.concatenate(v) for v in (p_ml, p_rule, p_base, ys, chart))

    def block(mask: np.ndarray) -> dict[str, Any]:
        if not mask.any():
            return {"n_test": 0}
        return {
            "n_test": int(mask.sum()),
            "success_rate": float(yy[mask].mean()),
            "auc": auc(yy[mask], pm[mask]),
            "rule_auc": auc(yy[mask], pr[mask]),
            "brier": brier(yy[mask], pm[mask]),
            "rule_brier": brier(yy[mask], pr[mask]),
            "base_rate_brier": brier(yy[mask], pb[mask]),
        }

    return {
        "cv": f"walk-forward, {len(p_ml)} expanding folds over detections in time order, labels purged",
        "all": block(np.ones(len(yy), dtype=bool)),
        "chart": block(ch),
        "candle": block(~ch),
    }


def train(symbols: list[str] | None = None, *, seed: int = 0, deps: dict[str, Any] | None = None) -> Trained:
    """Fit `pattern_scorer` on every symbol's history; metadata carries its walk-forward scores."""
    del deps  # the pattern scorer needs no other model
    symbols = list(symbols or DEFAULT_SYMBOLS)
    sets, data = [], {}
    for sym in symbols:
        bars = load_bars(sym)
        if len(bars) < 300:  # too short to say anything about success rates; skip rather than fail
            continue
        sets.append(symbol_dataset(sym, bars, seed=seed))
        data[sym] = data_fingerprint(sym, bars)
    if not sets:
        raise NotEnoughHistory("training the pattern scorer", 300, 0)
    ds = pooled_dataset(sets)
    scores = walk_forward_scores(ds)
    model = PatternScorer().fit(ds.X, ds.types, ds.kinds, ds.symbols, ds.y, ds.random_rate, ds.matched_rate,
                                ds.resolved_time)
    return Trained(model, {
        "features": model.feature_names_,
        "params": {"C": model.C, "prior_strength": model.prior_strength,
                   "min_symbol_cases": model.min_symbol_cases, "horizon": dict(HORIZON),
                   "chart": ChartParams().__dict__ | {"ks": list(ChartParams().ks)}},
        "scores": scores,
        "data": data,
        "detections": len(ds),
        "resolved_through": model.resolved_through_,
        "min_resolved_cases": MIN_RESOLVED_CASES,
        "typicality_rows": model.typicality_.n_training_rows_ if model.typicality_ is not None else 0,
    })

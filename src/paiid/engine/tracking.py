"""The prediction log: every regime call, recommendation, trade probability and pattern served, and
what actually happened afterwards.

Why: out-of-sample scores at training time say how a model *did*; this log says how it *does* on the
requests it really answers. Each served answer is one row (model name and version, the inputs' as-of
bar, the user's A/B group, the JSON returned). `resolve()` later fills in the realised return over the
prediction's horizon from the bars that have arrived since, and `performance_report()` turns the log
into live accuracy, calibration, realised return per model version, an A/B comparison with a
significance test, and the feature importances recorded with each model.

What "correct" means: a row carries a `direction` (+1 long/bullish, -1 short/bearish, 0 no call) and,
when the model gives one, the `probability` that the call is right. A directional row is correct when
`direction * realised_return > 0`; a row without a direction keeps its realised return but is not
scored. Directions are inferred from the standard answers (regime `trending_bullish/bearish`, trade
`side`, pattern `signal`) unless the caller passes them.

Concurrency: every write is its own short transaction (SQLite in WAL mode with a busy timeout, or
PostgreSQL; see `paiid.data.db`), so several uvicorn workers can log at once; `resolve` only updates rows
that are
still unresolved, so two resolvers racing write the same values once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Boolean, DateTime, Float, Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from paiid.data.db import Base, get_engine
from paiid.engine.journal import entries as journal_entries
from paiid.engine.journal.facts import Prediction
from paiid.engine.journal.ledger import resolve_entries
from paiid.engine.journal.report import journal_section
from paiid.errors import BadInput, PaiidError
from paiid.jsonutil import to_jsonable
from paiid.metrics import brier, calibration_bins, expected_calibration_error

log = logging.getLogger("paiid.tracking")

KINDS: tuple[str, ...] = ("regime", "recommendation", "trade", "pattern")
GROUPS: tuple[str, ...] = ("manual", "ml")
#: Horizon used when neither the caller nor the answer says one (bars, i.e. about a month of days).
DEFAULT_HORIZON = 20
ALPHA = 0.05
CALIBRATION_BINS = 10


class PredictionRow(Base):
    """One served answer and, once its horizon has passed, its outcome."""

    __tablename__ = "predictions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    as_of: Mapped[dt.datetime] = mapped_column(DateTime)
    model_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ab_group: Mapped[str | None] = mapped_column(String(8), nullable=True, index=True)
    output: Mapped[str] = mapped_column(Text)
    horizon_bars: Mapped[int] = mapped_column(Integer)
    direction: Mapped[int | None] = mapped_column(Integer, nullable=True)
    probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    realized_return: Mapped[float | None] = mapped_column(Float, nullable=True)
    correct: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)


def _engine():
    """The database engine; its schema (this table included) is the migrations' (`paiid.data.db`)."""
    return get_engine()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def ab_group(user_id: str | None) -> str | None:
    """Deterministic 50/50 split of user ids into `manual` / `ml` (None for anonymous requests).

    A hash (not Python's randomised `hash`) so every worker and every restart agrees on a user's group.
    """
    if user_id is None or str(user_id) == "":
        return None
    digest = hashlib.sha256(f"paiid-ab:{user_id}".encode()).digest()
    return GROUPS[digest[0] & 1]


def _as_naive(value: Any, what: str) -> dt.datetime:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise BadInput(f"invalid {what} {value!r}; use an ISO date like 2018-12-31") from None
    if pd.isna(ts):
        raise BadInput(f"invalid {what} {value!r}; use an ISO date like 2018-12-31")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


def _infer(kind: str, output: dict[str, Any]) -> tuple[int | None, float | None, int | None]:
    """(direction, probability, horizon) read off a standard answer; None where it does not say."""
    direction: int | None = None
    prob: float | None = None
    horizon = output.get("horizon_bars")
    if kind == "regime":
        direction = {"trending_bullish": 1, "trending_bearish": -1}.get(output.get("current_regime"), 0)
        prob = output.get("confidence") if direction else None
    elif kind == "trade":
        side = str(output.get("side", "")).lower()
        direction = {"long": 1, "short": -1}.get(side)
        prob = output.get("win_probability")
    elif kind == "pattern":
        pats = output.get("patterns")
        pat = output if pats is None else max(
            (p for p in pats if p.get("signal") in ("bullish", "bearish")),
            key=lambda p: p.get("confidence") or 0, default=None,
        )
        if pat is not None:
            direction = {"bullish": 1, "bearish": -1}.get(pat.get("signal"), 0)
            prob = pat.get("confidence") if direction else None
        elif pats is not None:
            direction = 0
    elif kind == "recommendation":
        d = output.get("direction")
        direction = int(np.sign(d)) if isinstance(d, int | float) else None
    if prob is not None:
        try:
            prob = float(prob)
        except (TypeError, ValueError):
            prob = None
        if prob is not None and not (0.0 <= prob <= 1.0 and math.isfinite(prob)):
            prob = None
    return direction, prob, horizon if isinstance(horizon, int) and horizon > 0 else None


def log_prediction(
    kind: str,
    symbol: str,
    output: dict[str, Any],
    *,
    as_of: Any | None = None,
    model_name: str | None = None,
    model_version: int | None = None,
    user_id: str | None = None,
    horizon_bars: int | None = None,
    direction: int | None = None,
    probability: float | None = None,
    ab: str | None = None,
) -> int:
    """Record one served answer; returns its id. `as_of` defaults to `output["as_of"]`.

    `direction`/`probability`/`horizon_bars` default to what the answer itself says (see the module
    docstring); `ab` overrides the hash split (e.g. a forced group for an internal account).
    """
    if kind not in KINDS:
        raise BadInput(f"unknown prediction kind {kind!r}; use one of {', '.join(KINDS)}")
    if not isinstance(output, dict):
        raise BadInput("output must be the answer's JSON object")
    inf_dir, inf_prob, inf_h = _infer(kind, output)
    direction = inf_dir if direction is None else int(np.sign(direction))
    probability = inf_prob if probability is None else float(probability)
    horizon = int(horizon_bars or inf_h or DEFAULT_HORIZON)
    if horizon < 1:
        raise BadInput("horizon_bars must be at least 1")
    as_of_value = as_of if as_of is not None else output.get("as_of")
    if as_of_value is None:
        raise BadInput("as_of is required (the date of the last bar the answer used)")
    group = ab if ab is not None else ab_group(user_id)
    if group is not None and group not in GROUPS:
        raise BadInput(f"unknown A/B group {group!r}; use one of {', '.join(GROUPS)}")
    row = {
        "created_at": _utcnow(),
        "kind": kind,
        "symbol": str(symbol).upper(),
        "as_of": _as_naive(as_of_value, "as_of"),
        "model_name": model_name,
        "model_version": int(model_version) if model_version is not None else None,
        "user_id": None if user_id is None else str(user_id),
        "ab_group": group,
        "output": json.dumps(to_jsonable(output), allow_nan=False),
        "horizon_bars": horizon,
        "direction": direction,
        "probability": probability,
    }
    with _engine().begin() as conn:  # one short transaction per insert: safe with several workers
        result = conn.execute(PredictionRow.__table__.insert().values(**row))
        return int(result.inserted_primary_key[0])


def log_served(
    kind: str,
    symbol: str,
    output: dict[str, Any],
    *,
    model_name: str | None = None,
    user_id: str | None = None,
    **kwargs: Any,
) -> int | None:
    """`log_prediction` for routers/commands: fills in the serving model version and never raises.

    Logging must never turn a good answer into an error, so any failure is a warning and None.
    """
    try:
        version = kwargs.pop("model_version", None)
        if version is None and model_name is not None:
            from paiid.engine import registry, service

            entry = service.current_info(model_name)
            version = entry.version if entry is not None else registry.promoted_version(model_name)
        return log_prediction(kind, symbol, output, model_name=model_name, model_version=version,
                              user_id=user_id, **kwargs)
    except Exception as exc:  # noqa: BLE001 - see docstring
        log.warning("could not log %s prediction for %s: %s", kind, symbol, exc)
        return None


def predictions_by_id(ids: list[int]) -> dict[int, Prediction]:
    """The logged answers with these ids (missing ids are simply absent), for the decision journal."""
    t = PredictionRow.__table__
    out: dict[int, Prediction] = {}
    wanted = sorted({int(i) for i in ids})
    with _engine().connect() as conn:
        for start in range(0, len(wanted), 500):  # below SQLite's bound-parameter limit
            rows = conn.execute(
                select(t.c.id, t.c.kind, t.c.symbol, t.c.as_of, t.c.user_id, t.c.ab_group, t.c.output)
                .where(t.c.id.in_(wanted[start:start + 500]))
            ).all()
            for r in rows:
                try:
                    output = json.loads(r.output)
                except (TypeError, ValueError):
                    output = {}
                out[int(r.id)] = Prediction(int(r.id), r.kind, r.symbol, pd.Timestamp(r.as_of), r.user_id,
                                            r.ab_group, output if isinstance(output, dict) else {})
    return out


def journal_report(source: str | None = None, user: str | None = None) -> dict[str, Any]:
    """The `journal` block of `performance_report`; `source="simulated"` / `user`: only those entries.

    Outcomes come from the bars loaded now (see `paiid.engine.journal.ledger`), so a replay under
    `paiid.data.as_of` reports the journal as it stood then.
    """
    rows = journal_entries.read(source=source, user=user)
    preds = predictions_by_id([int(r["prediction_id"]) for r in rows])
    return to_jsonable(journal_section(resolve_entries(rows, preds, journal_entries.superseded_ids())))


# --------------------------------------------------------------------------------------- resolution


def resolve(now: Any | None = None) -> dict[str, Any]:
    """Resolve every logged prediction whose horizon has passed, using the bars known now.

    `now` (optional) only counts bars up to that time, e.g. to replay history; by default every stored
    bar counts. The entry is the close of the last bar at or before `as_of`; the exit is the close
    `horizon_bars` bars later. Returns counts of resolved and still pending rows.
    """
    from paiid.data import load_bars

    cutoff = None if now is None else _as_naive(now, "now")
    engine = _engine()
    with engine.connect() as conn:
        pending = conn.execute(
            select(PredictionRow.id, PredictionRow.symbol, PredictionRow.as_of, PredictionRow.horizon_bars,
                   PredictionRow.direction)
            .where(PredictionRow.resolved_at.is_(None))
            .order_by(PredictionRow.symbol, PredictionRow.id)
        ).all()
    resolved = 0
    problems: dict[str, str] = {}
    by_symbol: dict[str, list[Any]] = {}
    for r in pending:
        by_symbol.setdefault(r.symbol, []).append(r)
    for symbol, rows in by_symbol.items():
        try:
            bars = load_bars(symbol, end=cutoff)
        except PaiidError as exc:
            problems[symbol] = exc.message
            continue
        idx, close = bars.index, bars["close"].to_numpy()
        updates = []
        for r in rows:
            pos = int(idx.searchsorted(pd.Timestamp(r.as_of), side="right")) - 1
            if pos < 0:
                continue  # as_of before the first bar: nothing to measure from
            exit_pos = pos + r.horizon_bars
            if exit_pos >= len(idx):
                continue  # horizon not reached yet
            ret = float(close[exit_pos] / close[pos] - 1.0)
            correct = None if not r.direction else bool(r.direction * ret > 0)
            updates.append({
                "b_id": r.id,
                "b_ret": ret,
                "b_correct": correct,
                "b_at": _utcnow(),
                "b_outcome": json.dumps({
                    "entry_date": idx[pos].isoformat(), "entry_close": float(close[pos]),
                    "exit_date": idx[exit_pos].isoformat(), "exit_close": float(close[exit_pos]),
                }),
            })
        if updates:
            from sqlalchemy import bindparam

            t = PredictionRow.__table__
            stmt = (
                update(t)
                .where(t.c.id == bindparam("b_id"))
                .where(t.c.resolved_at.is_(None))
                .values(realized_return=bindparam("b_ret"), correct=bindparam("b_correct"),
                        resolved_at=bindparam("b_at"), outcome=bindparam("b_outcome"))
            )
            with engine.begin() as conn:
                conn.execute(stmt, updates)
            resolved += len(updates)
    with engine.connect() as conn:
        still = conn.execute(
            select(func.count()).select_from(PredictionRow).where(PredictionRow.resolved_at.is_(None))
        ).scalar_one()
    out: dict[str, Any] = {"resolved": resolved, "pending": int(still)}
    if problems:
        out["problems"] = problems
    return out


# ------------------------------------------------------------------------------------------ reports


def _frame() -> pd.DataFrame:
    t = PredictionRow.__table__
    cols = [c for c in t.c if c.name not in ("output", "outcome")]
    with _engine().connect() as conn:
        rows = conn.execute(select(*cols).order_by(t.c.id)).all()
    return pd.DataFrame([r._asdict() for r in rows], columns=[c.name for c in cols])


def _accuracy(df: pd.DataFrame) -> dict[str, Any]:
    """Hit rate of resolved directional calls, beside the always-long baseline on the same rows."""
    scored = df[df["correct"].notna()]
    n = len(scored)
    out: dict[str, Any] = {"n": n, "accuracy": None, "baseline_always_long": None}
    if n:
        out["accuracy"] = float(scored["correct"].astype(float).mean())
        out["baseline_always_long"] = float((scored["realized_return"] > 0).mean())
    return out


def _signed(df: pd.DataFrame) -> pd.Series:
    """Return of following each directional call (direction * realised return); NaN without a call."""
    d = df["direction"].astype(float)
    r = df["realized_return"].astype(float)
    return (d * r).where(d.notna() & (d != 0))


def _calibration(df: pd.DataFrame) -> dict[str, Any]:
    sub = df[df["correct"].notna() & df["probability"].notna()]
    p = sub["probability"].to_numpy(dtype=float)
    y = sub["correct"].astype(float).to_numpy()
    table = calibration_bins(y, p, np.linspace(0.0, 1.0, CALIBRATION_BINS + 1))
    bins = [{"lo": b.lo, "hi": b.hi, "n": b.n, "mean_predicted": b.mean_predicted,
             "realized_frequency": b.observed} for b in table]
    out: dict[str, Any] = {"n": len(p), "bins": bins, "brier": None, "baseline_brier": None,
                           "ece": expected_calibration_error(table)}
    if len(p):
        out["brier"] = brier(y, p)
        out["baseline_brier"] = brier(y, np.full(len(y), y.mean()))  # always predicting the base rate
    return out


def _by_model(df: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    sub = df[df["model_name"].notna()]
    for (name, version), g in sub.groupby(["model_name", "model_version"], dropna=False, sort=True):
        res = g[g["resolved_at"].notna()]
        signed = _signed(res).dropna()
        out.append({
            "model": name,
            "version": None if pd.isna(version) else int(version),
            "predictions": len(g),
            "resolved": len(res),
            **{k: v for k, v in _accuracy(res).items() if k != "n"},
            "mean_realized_return": float(res["realized_return"].mean()) if len(res) else None,
            "mean_signed_return": float(signed.mean()) if len(signed) else None,
        })
    return out


def _ab(df: pd.DataFrame) -> dict[str, Any]:
    from scipy import stats

    res = df[df["resolved_at"].notna() & df["ab_group"].notna()]
    groups: dict[str, Any] = {}
    for gname in GROUPS:
        g = res[res["ab_group"] == gname]
        signed = _signed(g).dropna()
        groups[gname] = {
            "users": int(df.loc[df["ab_group"] == gname, "user_id"].nunique()),
            "resolved": len(g),
            **_accuracy(g),
            "mean_signed_return": float(signed.mean()) if len(signed) else None,
        }
    out: dict[str, Any] = {"split": "sha256(user id) parity", "alpha": ALPHA, "groups": groups}
    a, b = (res[res["ab_group"] == g] for g in GROUPS)
    ca, cb = a["correct"].dropna().astype(float), b["correct"].dropna().astype(float)
    if len(ca) >= 2 and len(cb) >= 2:
        pooled = (ca.sum() + cb.sum()) / (len(ca) + len(cb))
        se = math.sqrt(pooled * (1 - pooled) * (1 / len(ca) + 1 / len(cb)))
        diff = float(cb.mean() - ca.mean())
        z = diff / se if se > 0 else 0.0
        p = float(2 * stats.norm.sf(abs(z)))
        out["accuracy_test"] = {"test": "two-proportion z-test", "difference_ml_minus_manual": diff,
                                "z": float(z), "p_value": p, "significant": p < ALPHA}
    else:
        out["accuracy_test"] = {"test": "two-proportion z-test", "p_value": None,
                                "note": "needs at least 2 resolved directional predictions per group"}
    sa, sb = _signed(a).dropna(), _signed(b).dropna()
    if len(sa) >= 2 and len(sb) >= 2 and (sa.std() > 0 or sb.std() > 0):
        t_res = stats.ttest_ind(sb, sa, equal_var=False)
        p = float(t_res.pvalue)
        out["return_test"] = {"test": "Welch's t-test",
                              "difference_ml_minus_manual": float(sb.mean() - sa.mean()),
                              "t": float(t_res.statistic), "p_value": p, "significant": p < ALPHA}
    else:
        out["return_test"] = {"test": "Welch's t-test", "p_value": None,
                              "note": "needs at least 2 resolved directional predictions per group"}
    return out


def _feature_importance(top: int = 15) -> dict[str, Any]:
    from paiid.engine import registry

    out: dict[str, Any] = {}
    for name in registry.model_names():
        v = registry.promoted_version(name)
        try:
            meta = registry.describe(name, v).metadata if v is not None else {}
        except PaiidError:
            continue
        fi = meta.get("feature_importances")
        if isinstance(fi, dict) and fi:
            ranked = sorted(((k, float(x)) for k, x in fi.items() if isinstance(x, int | float)),
                            key=lambda kv: -abs(kv[1]))[:top]
            out[name] = {"version": v, "importances": dict(ranked)}
        else:
            out[name] = {"version": v, "importances": None, "note": "not recorded by this model's trainer"}
    return out


def performance_report() -> dict[str, Any]:
    """Live accuracy, calibration, realised return per model version, A/B comparison, importances, and
    the decision journal (adoption, outcomes of adopted vs manual trades vs passed advice, calibration)."""
    df = _frame()
    resolved = df[df["resolved_at"].notna()]
    by_kind = {}
    for kind in KINDS:
        k = df[df["kind"] == kind]
        kr = k[k["resolved_at"].notna()]
        by_kind[kind] = {"predictions": len(k), "resolved": len(kr), **_accuracy(kr)}
    report: dict[str, Any] = {
        "predictions": {"total": len(df), "resolved": len(resolved), "pending": len(df) - len(resolved)},
        "accuracy": {"overall": _accuracy(resolved), "by_kind": by_kind},
        "calibration": _calibration(resolved),
        "by_model": _by_model(df),
        "ab_test": _ab(df),
        "feature_importance": _feature_importance(),
        "journal": journal_report(),
    }
    return to_jsonable(report)

"""The S&P 500 index's per-episode regime table, 1990-2022, point in time, from closes only.

Why this table: the bundled index (`SP500`, skfolio's S&P 500 close 1990-01-02 .. 2022-12-28) spans six
well-known declines and the bull runs between them, three decades more than SPX's OHLCV bars. It has
closes only, so it is labelled by the close-only variant of the detector
(``RegimeDetector(volatility="close")``: close-to-close volatility instead of the high-low range).

**Point in time**: the labels of calendar year Y come from a detector refitted on the index's closes up
to the end of Y-1 (read under `paiid.data.as_of`), applied causally to the bars up to the end of Y. A year
is labelled only when at least `MIN_HISTORY_BARS` (two years) of earlier bars exist: the series starts
in January 1990, so 1990 and 1991 are not labelled (the 1990 decline has no labelled day, and `coverage`
says so) and the first fit, at the end of 1991, sees 1990-91 only. Every share is over labelled days.

What a row reports is what a user is shown: the regime after the real-market layer (`market`: a crash
in a falling market is ``trending_bearish`` with detail ``volatile_bear``) and its detail, beside the
fitted state before that layer; and, as a check that does not come from the model, the share of the
episode's criterion-bear days (`realdata.criteria`: more than 15 % below the running peak with a
negative 60-bar return) labelled ``trending_bearish``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from paiid.data import as_of, current_as_of, load_bars
from paiid.errors import NotEnoughHistory
from paiid.ml.regime.model import RegimeDetector
from paiid.ml.regime.naming import REGIMES
from paiid.ml.regime.realdata import agreement, criteria

#: The bundled index close series.
INDEX = "SP500"
#: Bars of history a yearly refit needs (about two years of daily bars).
MIN_HISTORY_BARS = 504
#: (name, peak day, trough day) of the named declines, peak-to-trough closes of the S&P 500.
DECLINES: list[tuple[str, str, str]] = [
    ("1990 decline", "1990-07-16", "1990-10-11"),
    ("2000-02 decline", "2000-03-24", "2002-10-09"),
    ("2007-09 decline", "2007-10-09", "2009-03-09"),
    ("2011 decline", "2011-04-29", "2011-10-03"),
    ("2020 decline", "2020-02-19", "2020-03-23"),
    ("2022 decline", "2022-01-03", "2022-10-12"),
]


def episode_windows(index: pd.DatetimeIndex) -> list[dict[str, str]]:
    """The declines and the bull runs between them (the trading day after one trough to the day before
    the next peak, named by those dates), in time order, limited to the days in `index`."""
    out: list[dict[str, str]] = []
    for i, (name, start, end) in enumerate(DECLINES):
        if i:
            after = index[index > pd.Timestamp(DECLINES[i - 1][2])]
            before = after[after < pd.Timestamp(start)]
            if len(before):
                a, b = before[0].date().isoformat(), before[-1].date().isoformat()
                out.append({"name": f"bull run {a}..{b}", "kind": "bull run", "start": a, "end": b})
        out.append({"name": name, "kind": "decline", "start": start, "end": end})
    return out


def yearly_labels(symbol: str = INDEX, *, seed: int = 0, method: str = "kmeans", volatility: str = "close",
                  min_history: int = MIN_HISTORY_BARS) -> pd.DataFrame:
    """Per day of `symbol`: `regime`, `detail` (what the answer shows) and `state` (before the market
    layer), None where not labelled. Year Y: a detector fitted on the bars up to the end of Y-1, applied
    to the bars up to the end of Y. Inside an outer `as_of`, nothing after its cap is read."""
    full = load_bars(symbol)
    cap = current_as_of()
    out = pd.DataFrame({c: np.full(len(full), None, dtype=object) for c in ("regime", "detail", "state")},
                       index=full.index)
    for year in sorted({int(y) for y in full.index.year})[1:]:
        cut = pd.Timestamp(f"{year - 1}-12-31")
        if cap is not None and cut > cap:  # never widen a caller's as_of
            break
        if int((full.index <= cut).sum()) < min_history:
            continue
        with as_of(cut):
            train = load_bars(symbol)
        try:
            det = RegimeDetector(method=method, random_state=seed, volatility=volatility).fit(train)
        except NotEnoughHistory:
            continue
        bars = full.loc[: f"{year}-12-31"]
        hist = det.history(bars)
        days = bars.index.year == year
        pos = np.flatnonzero(days)
        for col in ("regime", "detail", "state"):
            out.iloc[pos, out.columns.get_loc(col)] = hist[col][days]
    return out


def _shares(values: pd.Series, names: tuple[str, ...] | None = None) -> dict[str, float]:
    if names is None:
        return {str(k): float(v) for k, v in values.value_counts(normalize=True).items()}
    return {r: float(np.mean(values.to_numpy() == r)) for r in names}


def _row(win: dict[str, str], labels: pd.DataFrame, close: pd.Series, bear: pd.Series,
         bull: pd.Series) -> dict[str, Any]:
    sl = slice(win["start"], win["end"])
    lab = labels.loc[sl]
    ok = lab["regime"].notna()
    got = lab[ok]
    c = close.loc[sl]
    row: dict[str, Any] = {**win, "days": int(len(lab)), "labelled_days": int(ok.sum()),
                           "index_return": float(c.iloc[-1] / c.iloc[0] - 1.0) if len(c) else None}
    if len(got):
        shares = _shares(got["regime"], REGIMES)
        bearish = (got["regime"] == "trending_bearish").astype(float)
        b, u = bear.loc[got.index], bull.loc[got.index]
        row.update({
            "regime_shares": shares,
            "dominant": max(REGIMES, key=lambda r: shares[r]),
            "state_shares": _shares(got["state"], REGIMES),
            "detail_shares": _shares(got["detail"]),
            "criterion_bear_days": int(b.sum()),
            "criterion_bear_labelled_bearish": float(bearish[b].mean()) if b.any() else None,
            "criterion_bull_days": int(u.sum()),
            "criterion_bull_labelled_bearish": float(bearish[u].mean()) if u.any() else None,
        })
    else:
        row.update({"regime_shares": None, "dominant": None, "state_shares": None, "detail_shares": None,
                    "criterion_bear_days": int(bear.loc[lab.index].sum()),
                    "criterion_bear_labelled_bearish": None,
                    "criterion_bull_days": int(bull.loc[lab.index].sum()),
                    "criterion_bull_labelled_bearish": None})
    return row


def index_episodes(symbol: str = INDEX, *, seed: int = 0, method: str = "kmeans",
                   volatility: str = "close") -> dict[str, Any]:
    """The per-episode table of `symbol` (see the module docstring), JSON-friendly: `episodes` (one row
    per named decline and bull run), `overall` (the criterion shares of `realdata.agreement` and the
    regime shares over every labelled day), `coverage` and `summary` (plain sentences)."""
    labels = yearly_labels(symbol, seed=seed, method=method, volatility=volatility)
    detector = f"RegimeDetector(volatility={volatility!r}, method={method!r}), refitted every year-end"
    return episode_table(symbol, load_bars(symbol), labels, detector)


def episode_table(symbol: str, bars: pd.DataFrame, labels: pd.DataFrame, detector: str) -> dict[str, Any]:
    """`index_episodes` from `yearly_labels`' `labels` of `bars` (`detector` says which one made them)."""
    bear, bull = criteria(bars)
    rows = [_row(w, labels, bars["close"], bear, bull) for w in episode_windows(bars.index)
            if pd.Timestamp(w["start"]) <= bars.index[-1]]
    ok = labels["regime"].notna()
    flag = pd.Series(np.where(labels["regime"] == "trending_bearish", 1.0, 0.0), index=bars.index)
    flag[~ok] = np.nan
    overall = agreement(bars, flag)
    overall["regime_shares"] = _shares(labels.loc[ok, "regime"], REGIMES) if ok.any() else None
    unlabelled_years = sorted({int(y) for y in bars.index.year} - {int(y) for y in bars.index[ok].year})
    coverage = {
        **overall.pop("coverage"),
        "unlabelled_years": unlabelled_years,
        "why": f"year Y is labelled by a fit on the bars up to the end of Y-1, which needs at least "
               f"{MIN_HISTORY_BARS} of them (two years); the series starts on "
               f"{bars.index[0].date().isoformat()}",
    }
    report = {
        "symbol": symbol,
        "detector": detector,
        "point_in_time": "year Y labelled causally by a detector fitted on the closes up to the end of Y-1 "
                         "(paiid.data.as_of); shares over labelled days only",
        "labels_shown": "regime after the real-market layer (what the answer reports), with its detail; "
                        "state_shares: the fitted state before that layer",
        "episodes": rows,
        "overall": overall,
        "coverage": coverage,
    }
    report["summary"] = summary(report)
    return report


def summary(report: dict[str, Any]) -> list[str]:
    """Plain sentences computed from `index_episodes`' numbers."""
    pct = "{:.0%}".format
    out = []
    for r in report["episodes"]:
        when = "" if r["kind"] == "bull run" else f"{r['start']}..{r['end']}, "
        head = f"{report['symbol']} {r['name']} ({when}index {r['index_return']:+.0%})"
        if not r["labelled_days"]:
            out.append(f"{head}: not labelled, no point-in-time fit yet ({report['coverage']['why']}).")
            continue
        s = r["regime_shares"]
        part = "" if r["labelled_days"] == r["days"] else f" ({r['days'] - r['labelled_days']} unlabelled)"
        text = (f"{head}: of {r['labelled_days']} labelled days{part}, {pct(s['trending_bearish'])} bearish, "
                f"{pct(s['high_volatility'])} high volatility, {pct(s['ranging'])} ranging, "
                f"{pct(s['trending_bullish'])} bullish")
        if r["criterion_bear_labelled_bearish"] is not None:
            text += (f"; {pct(r['criterion_bear_labelled_bearish'])} of its {r['criterion_bear_days']} "
                     "criterion-bear days labelled bearish")
        out.append(text + ".")
    o = report["overall"]
    bear, bull = o["criterion_bear"], o["criterion_bull"]
    if bear["days"] and bull["days"]:
        out.append(f"{report['symbol']} overall, refitted every year-end from closes only: "
                   f"{pct(bear['share_labelled_bearish'])} of the {bear['days']} criterion-bear days are "
                   f"labelled bearish, against {pct(bull['share_labelled_bearish'])} of the {bull['days']} "
                   f"criterion-bull days (first labelled day {report['coverage']['first_labelled_day']}).")
    return out

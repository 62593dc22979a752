"""The decision journal against the real SQLite file and real SPX bars: validation, append-only history,
outcomes resolved exactly as the trade model labels its events, point in time, and the report.

Expected outcomes are computed here from the bars with a plain loop written from the trade model's
documented rules (fill at the next open; a bar touching both levels is a stop; a gap through a level
fills at the open; the time barrier exits at the close 20 bars on), with ATR(14) from the `ta` package,
not from paiid. Close-only symbols (AAPL) are walked over their closes (fill at the next close, levels
checked on closes, ATR(14) = Wilder's average of absolute close changes, computed here). Returns are
checked net of costs computed by hand from the backtester's documented rule: slippage moves each of the
two fills against the trade, commission is charged on the notional of each fill, and the trade's
return is its pnl over the entry notional. Predictions are logged with `tracking.log_prediction` (no
model needed).
"""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint
from ta.volatility import AverageTrueRange

from paiid import config
from paiid.backtest import DEFAULT_COMMISSION_BPS, DEFAULT_SLIPPAGE_BPS
from paiid.data import as_of, load_bars
from paiid.engine import tracking
from paiid.engine.journal import record
from paiid.errors import BadInput
from paiid.ml.context import TEMPLATES, AnswerContext
from paiid.ml.tradeprob.labels import entry_events, triple_barrier

HORIZON = 20
#: Per-fill costs as fractions (the backtester's defaults; the arithmetic below is this file's own).
COMMISSION, SLIPPAGE = DEFAULT_COMMISSION_BPS * 1e-4, DEFAULT_SLIPPAGE_BPS * 1e-4


@pytest.fixture(scope="module")
def spx() -> pd.DataFrame:
    return load_bars("SPX")


@pytest.fixture(scope="module")
def atr(spx: pd.DataFrame) -> np.ndarray:
    return AverageTrueRange(spx["high"], spx["low"], spx["close"], window=14).average_true_range().to_numpy()


def net(s: float, fill: float, exit_price: float) -> float:
    """One round trip after costs: buy/sell fills moved against the trade by the slippage, commission on
    each fill's notional, pnl per unit over the entry notional."""
    paid_in = fill * (1 + s * SLIPPAGE)
    got_out = exit_price * (1 - s * SLIPPAGE)
    pnl = s * (got_out - paid_in) - COMMISSION * paid_in - COMMISSION * got_out
    return pnl / paid_in


def expected(bars: pd.DataFrame, t: int, side: str, profit: float,
             stop: float) -> tuple[str, int, float, float] | None:
    """(status, exit bar, net return, gross return) of entering at t+1's open with levels `profit` /
    `stop` away from the fill; None while the outcome is unknown on these bars."""
    s = 1.0 if side == "long" else -1.0
    o, h, lo, c = (bars[k].to_numpy() for k in ("open", "high", "low", "close"))
    if t + 1 >= len(bars):
        return None
    fill = o[t + 1]
    up, dn = fill + s * profit, fill - s * stop
    for k in range(t + 1, t + 1 + HORIZON):
        if k >= len(bars):
            return None
        fav, adv = (h[k], lo[k]) if s > 0 else (lo[k], h[k])
        if s * (adv - dn) <= 0:
            px = o[k] if s * (o[k] - dn) <= 0 else dn
            return "lost", k, net(s, fill, px), s * (px / fill - 1)
        if s * (fav - up) >= 0:
            px = o[k] if s * (o[k] - up) >= 0 else up
            return "won", k, net(s, fill, px), s * (px / fill - 1)
    k = t + HORIZON
    return "timeout", k, net(s, fill, c[k]), s * (c[k] / fill - 1)


def close_atr_by_hand(close: np.ndarray) -> np.ndarray:
    """ATR(14) of a close-only series: the first 14 absolute close changes averaged, then Wilder's
    smoothing (13/14 of yesterday's value + 1/14 of today's change)."""
    moves = np.abs(np.diff(close))
    out = np.full(len(close), np.nan)
    out[14] = moves[:14].mean()
    for t in range(15, len(close)):
        out[t] = (13 * out[t - 1] + moves[t - 1]) / 14
    return out


def expected_on_closes(close: np.ndarray, t: int, side: str, profit: float,
                       stop: float) -> tuple[str, int, float, float] | None:
    """The walk over closes only: fill at t+1's close, the first close at or beyond a level exits there,
    else the close 20 bars after t; None while unknown."""
    s = 1.0 if side == "long" else -1.0
    if t + 1 >= len(close):
        return None
    fill = close[t + 1]
    up, dn = fill + s * profit, fill - s * stop
    for k in range(t + 1, t + 1 + HORIZON):
        if k >= len(close):
            return None
        if s * (close[k] - dn) <= 0:
            return "lost", k, net(s, fill, close[k]), s * (close[k] / fill - 1)
        if s * (close[k] - up) >= 0:
            return "won", k, net(s, fill, close[k]), s * (close[k] / fill - 1)
    k = t + HORIZON
    return "timeout", k, net(s, fill, close[k]), s * (close[k] / fill - 1)


def _trade(bars: pd.DataFrame, t: int, side: str, p: float = 0.5, strategy: str = "momentum-macd",
           user: str | None = None, symbol: str = "SPX") -> int:
    answer = {"symbol": symbol, "as_of": bars.index[t].isoformat(), "strategy_id": strategy, "side": side,
              "win_probability": p, "horizon_bars": HORIZON}
    return tracking.log_prediction("trade", symbol, answer, model_name="tradeprob", user_id=user)


def _rows() -> list[tuple]:
    with sqlite3.connect(config.home() / "paiid.db") as db:
        return db.execute("SELECT * FROM journal ORDER BY id").fetchall()


def _outcome(entry_id: int) -> dict:
    return next(e for e in record.list_entries(outcome=True, limit=1000) if e["id"] == entry_id)


# ------------------------------------------------------------------------------------------ validation


def test_an_entry_needs_an_existing_logged_answer(spx):
    with pytest.raises(BadInput, match=r"unknown prediction_id 4242"):
        record.add(4242, "adopt")
    pid = _trade(spx, 4000, "long")
    assert record.add(pid, "adopt")["prediction_id"] == pid
    assert len(_rows()) == 1


def test_bad_input_is_refused_with_the_reason_and_writes_nothing(spx):
    pid = _trade(spx, 4000, "long")
    close = float(spx["close"].iloc[4000])
    first = record.add(pid, "adopt")
    other = record.add(_trade(spx, 4100, "short"), "pass")
    cases = [
        (dict(action="manual", side="long", entry=100.0, stop=120.0),
         r"stop 120 is above the entry 100 for a long: a long's stop must be below its entry"),
        (dict(action="manual", side="long", entry=100.0, target=90.0), r"target 90 is below the entry 100"),
        (dict(action="manual", side="short", entry=100.0, stop=95.0),
         r"stop 95 is below the entry 100 for a short"),
        (dict(action="manual", side="long", stop=close * 1.1), r"above the reference close of"),
        (dict(action="manual", side="long", entry_date="2199-01-01"),
         r"entry_date 2199-01-01 is in the future"),
        (dict(action="manual", side="long", entry_date="2001-01-02"), r"before the answer's as_of"),
        (dict(action="manual", side="long", supersedes=9999), r"entry 9999 does not exist"),
        (dict(action="manual", side="long", supersedes=other["id"]), r"is about prediction"),
        (dict(action="manual"), r"manual trade needs a side"),
        (dict(action="adopt", template="momentum-breakout"), r"use action adopt_other"),
        (dict(action="adopt", side="short"), r"a short trade is action manual"),
        (dict(action="adopt_other", template="momentum-macd"), r"is the answer's top template"),
        (dict(action="adopt_other", template="astrology"), r"unknown strategy"),
        (dict(action="pass", stop=1.0), r"a pass records no trade"),
        (dict(action="hold"), r"unknown action 'hold'"),
        (dict(action="manual", side="sideways"), r"unknown side"),
        (dict(action="manual", side="long", entry=-3.0), r"entry must be a positive finite price"),
        (dict(action="adopt"),
         rf"prediction {pid} already has journal entry {first['id']}.*supersedes={first['id']}"),
    ]
    before = _rows()
    for kwargs, message in cases:
        with pytest.raises(BadInput, match=message):
            record.add(pid, **kwargs)
    assert _rows() == before


def test_entries_are_append_only_and_corrections_supersede(spx):
    pid = _trade(spx, 3000, "long", user="carol")
    first = record.add(pid, "adopt")
    stored_first = _rows()[0]
    second = record.add(pid, "manual", side="short", supersedes=first["id"], note="changed my mind")
    assert second["id"] != first["id"] and second["supersedes"] == first["id"]
    assert second["user_id"] == "carol"  # a correction keeps the corrected entry's user
    rows = _rows()
    assert len(rows) == 2 and rows[0] == stored_first  # the old row is untouched
    listed = {e["id"]: e for e in record.list_entries()}
    assert listed[first["id"]]["status"] == "superseded"
    assert listed[second["id"]]["status"] in ("won", "lost", "timeout")
    with pytest.raises(BadInput, match=rf"already superseded by entry {second['id']}"):
        record.add(pid, "pass", supersedes=first["id"])
    third = record.add(pid, "pass", supersedes=second["id"])
    assert {e["id"]: e["status"] for e in record.list_entries()} == {
        first["id"]: "superseded", second["id"]: "superseded", third["id"]: "passed"}


# --------------------------------------------------------------------------------------------- outcomes


def test_adopted_trades_resolve_exactly_as_computed_from_the_bars(spx, atr):
    statuses = set()
    for i, t in enumerate(range(1000, 4900, 130)):
        side = "long" if i % 2 else "short"
        s = 1.0 if side == "long" else -1.0
        close = float(spx["close"].iloc[t])
        pid = _trade(spx, t, side)
        if i % 3:  # the trade model's default barriers: 2 ATR(14) each way
            entry = record.add(pid, "adopt")
            want = expected(spx, t, side, 2.0 * atr[t], 2.0 * atr[t])
        else:  # the user's own levels: distances from the reference close move with the fill
            stop, target = close - s * 4.0 * atr[t], close + s * 5.0 * atr[t]
            entry = record.add(pid, "adopt", stop=stop, target=target)
            want = expected(spx, t, side, abs(target - close), abs(close - stop))
        assert want is not None
        got = _outcome(entry["id"])
        assert got["status"] == want[0], (t, side)
        assert got["outcome"]["exit_date"] == spx.index[want[1]].date().isoformat()
        assert got["outcome"]["return"] == pytest.approx(want[2], rel=1e-9, abs=1e-12)
        assert got["outcome"]["gross_return"] == pytest.approx(want[3], rel=1e-9, abs=1e-12)
        # a round trip at 1 bp + 1 bp a fill costs about 4 bp: net is below gross by that much
        assert want[3] - want[2] == pytest.approx(2 * (COMMISSION + SLIPPAGE), rel=0.25)
        statuses.add(got["status"])
    assert statuses == {"won", "lost", "timeout"}  # the comparison covered every kind of exit


def test_passed_advice_earns_what_it_would_have_after_the_same_costs(spx, atr):
    t = 2222
    pid = _trade(spx, t, "short")
    got = _outcome(record.add(pid, "pass")["id"])
    want = expected(spx, t, "short", 2 * atr[t], 2 * atr[t])
    assert got["status"] == "passed"
    assert got["outcome"]["status"] == want[0]
    assert got["outcome"]["return"] == pytest.approx(want[2], rel=1e-9, abs=1e-12)
    assert got["outcome"]["return"] < got["outcome"]["gross_return"]
    assert f"{DEFAULT_COMMISSION_BPS:g} bp commission + {DEFAULT_SLIPPAGE_BPS:g} bp slippage per fill" in (
        got["outcome"]["costs"])


def test_an_adopted_template_signal_resolves_as_the_trade_models_label(spx):
    """The trade model's own events and labels (its context, `entry_events`, `triple_barrier`) on SPX:
    adopting the answer for that event's template and side gives the label, exit bar and return."""
    ctx = AnswerContext("SPX", spx).symbol_context()
    t, side, tpl = entry_events(ctx)
    pick = np.linspace(0, len(t) - 1, 25).astype(int)
    labels = triple_barrier(ctx, t[pick], side[pick])
    for j, k in enumerate(pick):
        sd = "long" if side[k] > 0 else "short"
        pid = _trade(spx, int(t[k]), sd, strategy=TEMPLATES[int(tpl[k])])
        got = _outcome(record.add(pid, "adopt")["id"])
        assert got["outcome"]["won"] == bool(labels["label"][j])
        assert got["outcome"]["exit_date"] == spx.index[int(labels["t1"][j])].date().isoformat()
        assert got["outcome"]["gross_return"] == pytest.approx(float(labels["ret"][j]), rel=1e-12)
        s = float(side[k])
        fill = float(spx["open"].iloc[int(t[k]) + 1])
        label_exit = fill * (1 + s * float(labels["ret"][j]))
        assert got["outcome"]["return"] == pytest.approx(net(s, fill, label_exit), rel=1e-9, abs=1e-12)


def test_close_only_trades_resolve_on_their_closes():
    """AAPL (closes only, bundled from skfolio): adopted, own-level and passed trades resolve as the walk
    over the closes says, net of costs, and stay open until the closes that decide them exist."""
    aapl = load_bars("AAPL")
    close = aapl["close"].to_numpy(np.float64)
    a = close_atr_by_hand(close)
    statuses, checked = set(), []
    # time exits are rare on closes (2 ATR of close changes is soon crossed): add the first of each side
    cases = [(t, "long" if i % 2 else "short") for i, t in enumerate(range(1200, 8200, 180))]
    cases += [(next(t for t in range(1201, 8200) if expected_on_closes(close, t, sd, 2 * a[t], 2 * a[t])[0]
                    == "timeout"), sd) for sd in ("short", "long")]
    for i, (t, side) in enumerate(cases):
        s = 1.0 if side == "long" else -1.0
        pid = _trade(aapl, t, side, symbol="AAPL")
        if i % 4 == 3:
            entry = record.add(pid, "pass")
            want = expected_on_closes(close, t, side, 2 * a[t], 2 * a[t])
        elif i % 4 == 2:  # the user's own levels, as distances from the reference close
            stop, target = close[t] - s * 1.5 * a[t], close[t] + s * 3.0 * a[t]
            entry = record.add(pid, "adopt", stop=float(stop), target=float(target))
            want = expected_on_closes(close, t, side, abs(target - close[t]), abs(close[t] - stop))
        else:
            entry = record.add(pid, "adopt")
            want = expected_on_closes(close, t, side, 2 * a[t], 2 * a[t])
        got = _outcome(entry["id"])
        assert got["outcome"]["status"] == want[0], (t, side)
        assert got["outcome"]["execution"] == "close-only"
        assert got["outcome"]["fill"] == pytest.approx(close[t + 1], rel=1e-12)
        assert got["outcome"]["exit_date"] == aapl.index[want[1]].date().isoformat()
        assert got["outcome"]["gross_return"] == pytest.approx(want[3], rel=1e-9, abs=1e-12)
        assert got["outcome"]["return"] == pytest.approx(want[2], rel=1e-9, abs=1e-12)
        statuses.add(want[0])
        checked.append((entry["id"], t, want))
    assert statuses == {"won", "lost", "timeout"}
    # point in time on closes: open while the deciding close is missing, resolved once it exists
    entry_id, t, want = next(c for c in checked if c[2][0] != "timeout" and c[2][1] > c[1] + 2)
    with as_of(aapl.index[want[1] - 1]):
        assert _outcome(entry_id)["outcome"]["status"] == "open"
    with as_of(aapl.index[want[1]]):
        assert _outcome(entry_id)["outcome"]["status"] == want[0]
    # before 14 close changes exist there is no ATR, so no barriers: open, saying why
    early = record.add(_trade(aapl, 10, "long", symbol="AAPL"), "adopt")
    assert early["status"] == "open"
    assert "ATR(14) of closes" in _outcome(early["id"])["outcome"]["why"]


def test_nothing_resolves_before_its_data_exists(spx, atr):
    early = next(t for t in range(3000, 4900, 7)
                 if (w := expected(spx, t, "long", 2 * atr[t], 2 * atr[t])) and w[0] != "timeout"
                 and w[1] < t + HORIZON - 3)
    hit = expected(spx, early, "long", 2 * atr[early], 2 * atr[early])
    late = next(t for t in range(3000, 4900, 7)
                if expected(spx, t, "short", 2 * atr[t], 2 * atr[t])[0] == "timeout")
    a = record.add(_trade(spx, early, "long"), "adopt")
    b = record.add(_trade(spx, late, "short"), "adopt")
    day = spx.index
    with as_of(day[early]):  # the decision bar exists, the fill bar does not
        assert _outcome(a["id"])["status"] == "open"
    with as_of(day[hit[1] - 1]):
        assert _outcome(a["id"])["status"] == "open"
    with as_of(day[hit[1]]):  # a barrier hit resolves the trade before its time window is complete
        assert _outcome(a["id"])["status"] == hit[0]
    with as_of(day[late + HORIZON - 1]):
        assert _outcome(b["id"])["status"] == "open"
        report = tracking.journal_report()
        assert report["outcomes"]["groups"]["adopted"]["open"] >= 1
    with as_of(day[late + HORIZON]):
        assert _outcome(b["id"])["status"] == "timeout"
    with as_of(day[early - 30]):  # a store cut before the decision: not started
        assert _outcome(a["id"])["status"] == "open"


# ---------------------------------------------------------------------------------------------- report


def test_report_adoption_outcomes_tests_and_calibration(spx, atr):
    users = [f"user-{i}" for i in range(12)]
    plan = ["adopt"] * 6 + ["pass"] * 3 + ["manual"] * 3
    probs = np.linspace(0.3, 0.7, len(plan))
    by_action: dict[str, list[tuple[str, int, float]]] = {"adopt": [], "pass": [], "manual": []}
    cal_p, cal_y = [], []
    for i, (action, user) in enumerate(zip(plan, users, strict=True)):
        t = 1500 + 211 * i
        side = "long" if i % 2 else "short"
        pid = _trade(spx, t, side, p=float(probs[i]), user=user)
        want = expected(spx, t, side if action != "manual" else "long", 2 * atr[t], 2 * atr[t])
        by_action[action].append(want)
        if action == "manual":
            record.add(pid, "manual", side="long")
        else:
            record.add(pid, action)
            cal_p.append(probs[i])
            cal_y.append(float(want[0] == "won"))
    j = tracking.performance_report()["journal"]
    assert j["simulated"] is False and j["entries"] == 12
    ad = j["adoption"]
    assert (ad["adopted"], ad["n"]) == (6, 12) and ad["rate"] == pytest.approx(0.5)
    assert ad["ci"] == pytest.approx(list(proportion_confint(6, 12, method="wilson")), rel=1e-6)
    groups = {}
    for action, user in zip(plan, users, strict=True):
        groups.setdefault(tracking.ab_group(user), []).append(action == "adopt")
    assert {g: (v["adopted"], v["n"]) for g, v in ad["by_group"].items()} == {
        g: (sum(v), len(v)) for g, v in groups.items()}
    assert ad["by_template"]["momentum-macd"]["n"] == 12 and list(ad["by_regime"]) == ["not logged"]
    out = j["outcomes"]["groups"]
    for key, action in (("adopted", "adopt"), ("passed", "pass"), ("manual", "manual")):
        wins = sum(w[0] == "won" for w in by_action[action])
        assert out[key]["resolved"] == len(by_action[action]) and out[key]["wins"] == wins
        assert out[key]["win_rate_ci"] == pytest.approx(
            list(proportion_confint(wins, len(by_action[action]), method="wilson")), rel=1e-6)
        mean = np.mean([w[2] for w in by_action[action]])
        assert out[key]["mean_return"]["estimate"] == pytest.approx(mean)
        assert out[key]["mean_return"]["ci95"] is not None
    costs = f"{DEFAULT_COMMISSION_BPS:g} bp commission + {DEFAULT_SLIPPAGE_BPS:g} bp slippage per fill"
    assert f"returns are net of costs ({costs}" in j["outcomes"]["basis"]
    assert any(line.startswith(f"returns are net of costs: {costs}") for line in j["summary"])
    diff = j["outcomes"]["differences"]["adopted_vs_manual"]
    p = stats.ttest_ind([w[2] for w in by_action["adopt"]], [w[2] for w in by_action["manual"]],
                        equal_var=False).pvalue
    assert diff["return_p_value"] == pytest.approx(p)
    sentence = next(s for s in j["summary"] if s.startswith("adopted vs manual"))
    verdict = "not significant" if min(p, diff["win_rate_p_value"]) >= 0.05 else ": significant"
    assert verdict in sentence
    cal = j["calibration"]
    assert cal["n"] == 9
    assert cal["brier"] == pytest.approx(float(np.mean((np.array(cal_p) - np.array(cal_y)) ** 2)))
    assert sum(b["n"] for b in cal["bins"]) == 9
    # the simulator's entries are marked
    record.add(_trade(spx, 4800, "long"), "adopt", source="simulated")
    assert tracking.journal_report()["simulated"] is True
    assert tracking.journal_report(source="user")["simulated"] is False
    assert math.isfinite(j["outcomes"]["groups"]["adopted"]["sharpe_per_trade"]["estimate"])

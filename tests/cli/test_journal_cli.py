"""`paiid journal add|list|simulate` and the journal part of `paiid track`, run as the installed command.

Rows are counted in the home's SQLite file with sqlite3. The simulation replays dates of one refit
period (2018-04..06, served by the 2018-03-31 point-in-time refit that the answer and load tests fit
too), so it fits at most one vintage.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from paiid import config
from paiid.backtest import DEFAULT_COMMISSION_BPS, DEFAULT_SLIPPAGE_BPS
from paiid.bench.api import child_env, linked_home, paiid_command
from paiid.data import load_bars
from paiid.engine import tracking


def run(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(paiid_command(*args), env=child_env(home, {"COLUMNS": "200"}),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _trade(i: int) -> int:
    bars = load_bars("SPX")
    return tracking.log_prediction("trade", "SPX", {
        "as_of": bars.index[3500 + 50 * i].isoformat(), "strategy_id": "mean-reversion-bb-rsi",
        "side": "long", "win_probability": 0.6, "horizon_bars": 20})


def test_add_list_and_bad_input(paiid_home: Path) -> None:
    pid, other = _trade(0), _trade(1)
    ok = run(paiid_home, "journal", "add", "--prediction-id", str(pid), "--action", "adopt", "--user",
             "erin", "--note", "by the book", "--json")
    assert ok.returncode == 0, ok.stderr
    entry = json.loads(ok.stdout)
    assert entry["prediction_id"] == pid and entry["template"] == "mean-reversion-bb-rsi"
    assert entry["user_id"] == "erin" and entry["status"] in ("won", "lost", "timeout")
    bad = [
        (["--prediction-id", "424242", "--action", "adopt"], "unknown prediction_id 424242"),
        (["--prediction-id", str(other), "--action", "manual", "--side", "long", "--entry", "100",
          "--stop", "120"], "stop 120 is above the entry 100 for a long"),
        (["--prediction-id", str(other), "--action", "manual", "--side", "long",
          "--entry-date", "2199-03-01"], "entry_date 2199-03-01 is in the future"),
        (["--prediction-id", str(pid), "--action", "pass"], f"already has journal entry {entry['id']}"),
    ]
    for args, message in bad:
        r = run(paiid_home, "journal", "add", *args, "--json")
        assert r.returncode == 2 and r.stdout == "", (args, r.stdout, r.stderr)
        assert r.stderr.startswith("error: ") and message in r.stderr and "Traceback" not in r.stderr
    fixed = run(paiid_home, "journal", "add", "--prediction-id", str(pid), "--action", "pass",
                "--supersedes", str(entry["id"]))
    assert fixed.returncode == 0 and "supersedes entry" in fixed.stdout
    listed = json.loads(run(paiid_home, "journal", "list", "--json").stdout)["entries"]
    assert [(e["id"], e["status"]) for e in listed] == [(entry["id"] + 1, "passed"),
                                                        (entry["id"], "superseded")]
    out = listed[1]["outcome"]
    assert out["exit_date"] > listed[1]["entry_date"]
    # net of one round trip: slippage against both fills, commission on each fill's notional (by hand)
    s = 1.0 if entry["side"] == "long" else -1.0
    c, slip = DEFAULT_COMMISSION_BPS * 1e-4, DEFAULT_SLIPPAGE_BPS * 1e-4
    paid, got = out["fill"] * (1 + s * slip), out["exit_price"] * (1 - s * slip)
    assert out["gross_return"] == pytest.approx(s * (out["exit_price"] / out["fill"] - 1), rel=1e-9)
    assert out["return"] == pytest.approx((s * (got - paid) - c * paid - c * got) / paid, rel=1e-9)
    table = run(paiid_home, "journal", "list")
    assert table.returncode == 0 and "superseded" in table.stdout and "passed" in table.stdout
    with sqlite3.connect(config.home() / "paiid.db") as db:
        assert db.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 2


def test_simulated_user_is_journalled_reported_and_labelled(trained: Path, tmp_path: Path) -> None:
    home = linked_home(trained, tmp_path / "home")
    args = ("journal", "simulate", "--symbol", "SPX", "--start", "2018-04-02", "--end", "2018-06-29",
            "--every", "5", "--adopt", "0.5", "--seed", "3", "--json")
    r = run(home, *args)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout)
    bars = load_bars("SPX", "2018-04-02", "2018-06-29")
    dates = bars.index[::5]
    assert out["simulated"] is True and out["decisions"] == len(dates) and not out["skipped"]
    assert sum(out["actions"].values()) == len(dates)
    j = out["journal"]
    assert j["simulated"] is True and j["sources"] == {"user": 0, "simulated": len(dates)}
    assert j["adoption"]["n"] == len(dates) and j["adoption"]["adopted"] == out["actions"]["adopt"]
    assert all(s.startswith("Simulated user") for s in j["summary"][:1])
    if any(g["resolved"] for g in j["outcomes"]["groups"].values()):
        costs = f"{DEFAULT_COMMISSION_BPS:g} bp commission + {DEFAULT_SLIPPAGE_BPS:g} bp slippage per fill"
        assert any(s.startswith(f"returns are net of costs: {costs}") for s in j["summary"])
    with sqlite3.connect(home / "paiid.db") as db:
        rows = db.execute("SELECT j.action, j.source, j.entry_date, p.as_of, p.kind FROM journal j "
                          "JOIN predictions p ON p.id = j.prediction_id ORDER BY j.id").fetchall()
    assert len(rows) == len(dates)
    assert {(a, s, k) for a, s, _, _, k in rows} <= {(a, "simulated", "recommendation")
                                                    for a in ("adopt", "manual", "pass")}
    assert [d[:10] for _, _, d, _, _ in rows] == [d.date().isoformat() for d in dates]  # one answer a date
    # the same seed makes the same choices
    again = run(home, *args)
    assert again.returncode == 0, again.stderr[-3000:]
    with sqlite3.connect(home / "paiid.db") as db:
        actions = [a for (a,) in db.execute("SELECT action FROM journal ORDER BY id").fetchall()]
    assert actions[: len(dates)] == actions[len(dates):]
    track = run(home, "track")
    assert track.returncode == 0, track.stderr
    assert "decision journal (SIMULATED user, not real users)" in track.stdout
    assert "adoption of the top recommendation" in track.stdout and "outcomes (triple barrier" in track.stdout
    for d in j["outcomes"]["differences"].values():  # the verdict is said in plain words
        sentence = next(s for s in j["summary"] if s.startswith(f"{d['a']} vs {d['b']}"))
        if d["win_rate_p_value"] is None:
            assert "no test yet" in sentence
        else:
            significant = min(d["win_rate_p_value"], d["return_p_value"]) < 0.05
            verdict = "significant" if significant else "not significant"
            assert sentence.endswith(f"{verdict} at the 0.05 level.")


@pytest.mark.parametrize("bad", [["--every", "0"], ["--adopt", "1.5"],
                                 ["--start", "2018-06-01", "--end", "2018-01-01"]])
def test_simulate_refuses_bad_arguments_before_any_model_runs(paiid_home: Path, bad: list[str]) -> None:
    r = run(paiid_home, "journal", "simulate", *bad)
    assert r.returncode == 2 and r.stderr.startswith("error: "), r.stderr
    assert not (paiid_home / "models").exists()  # refused before anything was trained

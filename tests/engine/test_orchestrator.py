"""The combined AI answer: what it contains, when the cache serves it, A/B ranking and logging.

Models are real (trained once per session on SPX by `paiid train`, shared read-only through a
`models` symlink); each test has its own PAIID_HOME, so its own SQLite prediction log.
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from paiid.data import load_bars
from paiid.engine import orchestrator as orch
from paiid.errors import BadInput, NotEnoughHistory, UnknownSymbol

pytestmark = pytest.mark.slow

REGIMES = {"trending_bullish", "trending_bearish", "ranging", "high_volatility"}
#: Past as-of dates served by the 2018-03-31 point-in-time refits, which the answer, journal, chart and
#: load tests fit into the shared home too: a date of another quarter would fit four more models.
DATE, OTHER_DATE = "2018-06-29", "2018-05-31"


@pytest.fixture
def home(served_home: Path) -> Path:
    return served_home


def _rows(home: Path) -> list[tuple]:
    """The prediction log, read with sqlite3 directly (none yet if nothing created the table)."""
    if not (home / "paiid.db").exists():
        return []
    with sqlite3.connect(home / "paiid.db") as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'predictions'").fetchall():
            return []
        return db.execute(
            "SELECT kind, symbol, model_name, model_version, user_id, ab_group, horizon_bars, direction, "
            "probability FROM predictions ORDER BY id"
        ).fetchall()


def test_answer_combines_every_model_with_confidences(home: Path) -> None:
    a = orch.recommendations("spx")
    assert a["symbol"] == "SPX" and a["as_of"].startswith("2018-12-31")
    assert a["regime"]["current_regime"] in REGIMES
    assert 0.0 <= a["regime"]["confidence"] <= 1.0
    strategies = a["strategies"]
    ids = {s["strategy_id"] for s in strategies}
    assert {"trend-following-ma-cross", "mean-reversion-bb-rsi", "momentum-macd", "momentum-breakout"} <= ids
    probs = [s["probability"] for s in strategies]
    assert probs == sorted(probs, reverse=True)  # anonymous users see the ML ranking
    assert sum(probs) == pytest.approx(1.0, abs=1e-6)
    assert [s["rank"] for s in strategies] == list(range(1, len(strategies) + 1))
    for s in strategies:
        assert s["side"] in ("long", "short") and s["current_position"] in (-1, 0, 1)
        assert s["side"] == ("short" if s["current_position"] < 0 else "long")
        assert s["family"] in ("trend_following", "mean_reversion", "momentum", "breakout")
        assert 0 <= s["risk_score"] <= 100
    # the trade each group sees first is priced (one or two of them), with its win-probability
    priced = [s for s in strategies if s["trade"] is not None]
    assert strategies[0] in priced and 1 <= len(priced) <= 2
    for s in priced:
        assert s["trade"]["side"] == s["side"]
        assert 0.0 <= s["trade"]["win_probability"] <= 1.0 and s["trade"]["horizon_bars"] >= 1
    assert a["confidence"]["trade"] == strategies[0]["trade"]["win_probability"]
    for p in a["patterns"]:
        assert p["signal"] in ("bullish", "bearish", "neutral") and 0.0 <= p["confidence"] <= 1.0
    assert a["confidence"]["regime"] == a["regime"]["confidence"]
    assert a["confidence"]["strategy"] == probs[0]
    assert set(a["model_versions"]) == set(orch.MODEL_NAMES)
    assert a["cached"] is False and a["ab_group"] is None and a["ranking"] == "ml"


def test_answer_as_of_a_date_uses_only_bars_up_to_it(home: Path) -> None:
    a = orch.recommendations("SPX", date=DATE, log_prediction=False)
    assert a["as_of"].startswith(DATE)
    # the same answer when the data really ends there (no look-ahead through the cache or the models)
    cut = load_bars("SPX", end=DATE)
    models = orch.served_models(cut)
    assert {m["refit_date"] for m in a["models"].values()} == {"2018-03-31"}  # point-in-time refits
    core = orch.compute("SPX", cut, models)
    assert core["regime"] == a["regime"] and core["patterns"] == a["patterns"]
    assert core["strategies"] == [{k: v for k, v in s.items() if k != "rank"} for s in a["strategies"]]


def test_a_cold_answer_computes_the_symbols_context_once(home: Path) -> None:
    """Four models answer, but the features, each template's full-history backtest and the regime
    history are computed once (counted by the profiler, nothing replaced): before one context was
    shared, a cold answer built the features 6 times, ran the regime history 3 times and the backtests
    once for the selector and again for each priced trade."""
    from paiid.backtest import STRATEGIES

    orch.served_models(load_bars("SPX", end=OTHER_DATE))  # loading the models is not part of the answer
    profile = cProfile.Profile()
    profile.enable()
    answer = orch.recommendations("SPX", date=OTHER_DATE, log_prediction=False)
    profile.disable()
    assert answer["cached"] is False
    calls: Counter[str] = Counter()
    for (path, _, func), (_, n, *_) in pstats.Stats(profile).stats.items():
        calls["/".join(Path(path).parts[-2:]) + ":" + func] += n
    assert calls["features/frame.py:build_features"] == 1
    assert calls["regime/model.py:history"] == 1
    assert calls["backtest/engine.py:run_backtest"] == len(STRATEGIES)


def test_repeat_is_served_from_cache_and_a_new_model_version_invalidates(home: Path, trained: Path) -> None:
    from paiid.engine import registry

    # this test promotes a new version, so it gets its own copy of the models (never the shared ones)
    (home / "models").unlink()
    shutil.copytree(trained / "models", home / "models", ignore=shutil.ignore_patterns("*.lock", "*.tmp"))

    first = orch.recommendations("SPX")
    again = orch.recommendations("SPX")
    assert (first["cached"], again["cached"]) == (False, True)
    assert again["strategies"] == first["strategies"]

    model, info = registry.load("selector")
    new = registry.save("selector", model, dict(info.metadata))
    assert new.version > info.version
    after = orch.recommendations("SPX")
    assert after["cached"] is False
    assert after["model_versions"]["selector"] == new.version
    assert orch.recommendations("SPX")["cached"] is True
    # the answers of the replaced model were pruned, not just bypassed
    assert len(orch.cache()) == 1


def test_cached_path_never_computes_and_logs_what_it_serves(home: Path) -> None:
    from paiid.engine import service

    service.clear_cache()
    assert orch.cached_recommendations("SPX") is None  # models not loaded in this process yet
    orch.served_models(load_bars("SPX"))
    assert orch.cached_recommendations("SPX") is None  # loaded, but the answer is not cached
    assert _rows(home) == []  # a None is not an answer served
    first = orch.recommendations("SPX", user="zoe")
    again = orch.cached_recommendations("SPX", user="zoe")
    assert again is not None and again["cached"] is True
    assert again["strategies"] == first["strategies"]
    assert orch.cached_recommendations("SPX", date="2017-06-30") is None  # another as-of bar
    assert len(_rows(home)) == 2


def test_a_new_bar_invalidates_the_cached_answer(home: Path) -> None:
    from paiid.data.importer import import_bars

    goog = load_bars("GOOG")
    import_bars(goog.iloc[:-1], "MYGOOG", source="test")
    first = orch.recommendations("MYGOOG")
    assert orch.recommendations("MYGOOG")["cached"] is True
    import_bars(goog.iloc[-1:], "MYGOOG", source="test")  # the next bar arrives
    after = orch.recommendations("MYGOOG")
    assert after["cached"] is False
    assert after["as_of"] > first["as_of"]
    assert after["as_of"] == goog.index[-1].isoformat()


def test_ab_split_is_deterministic_balanced_and_changes_the_ranking(home: Path) -> None:
    groups = Counter(orch.ab_group(f"user-{i}") for i in range(2000))
    assert set(groups) == {"manual", "ml"}
    assert abs(groups["ml"] - 1000) < 100  # a fair coin: |z| < 4.5
    assert orch.ab_group("alice") == orch.ab_group(" alice ") == orch.ab_group("alice")
    assert orch.ab_group(None) is None and orch.ab_group("") is None

    manual_user = next(f"u{i}" for i in range(100) if orch.ab_group(f"u{i}") == "manual")
    ml_user = next(f"u{i}" for i in range(100) if orch.ab_group(f"u{i}") == "ml")
    ml = orch.recommendations("SPX", user=ml_user)
    manual = orch.recommendations("SPX", user=manual_user)
    assert manual["cached"] is True  # one cache entry serves both groups
    assert ml["ranking"] == "ml" and manual["ranking"] == "manual"
    assert [s["strategy_id"] for s in ml["strategies"]] == [
        s["strategy_id"] for s in sorted(ml["strategies"], key=lambda s: -s["probability"])
    ]
    favoured = manual["regime"]["recommended_strategies"]
    fams = [s["family"] for s in manual["strategies"]]
    ranks = [favoured.index(f) if f in favoured else len(favoured) for f in fams]
    assert ranks == sorted(ranks)  # the regime's favoured families first, in its order
    assert manual["strategies"][0]["trade"] is not None  # the manual pick is priced too
    # the probabilities are the same in both groups, only the order differs
    assert {s["strategy_id"]: s["probability"] for s in ml["strategies"]} == {
        s["strategy_id"]: s["probability"] for s in manual["strategies"]
    }


def test_every_served_answer_is_logged_with_versions_and_group(home: Path) -> None:
    users = ["alice", "bob", None, "carol", "alice"]
    served = [orch.recommendations("SPX", user=u) for u in users]
    rows = _rows(home)
    assert len(rows) == len(users)
    assert [r[0] for r in rows] == ["recommendation"] * len(users)
    for answer, row, user in zip(served, rows, users, strict=True):
        kind, symbol, model_name, version, user_id, group, horizon, direction, prob = row
        assert (symbol, model_name, user_id) == ("SPX", "selector", user)
        assert version == answer["model_versions"]["selector"]
        assert group == orch.ab_group(user)
        top = answer["strategies"][0]
        assert direction == top["current_position"]
        assert horizon >= 1
        if direction:
            assert prob == pytest.approx(top["trade"]["win_probability"])
    assert len({a["prediction_id"] for a in served}) == len(users)


def test_bad_requests_raise_the_mapped_errors(home: Path) -> None:
    with pytest.raises(UnknownSymbol):
        orch.recommendations("NOPE")
    with pytest.raises(BadInput):
        orch.recommendations("SPX", date="not-a-date")
    with pytest.raises(NotEnoughHistory):
        orch.recommendations("SPX", date="1999-06-01")  # ~100 bars after the first
    with pytest.raises(BadInput):
        orch.recommendations("SPX", user="x" * 200)
    assert _rows(home) == []  # nothing served, nothing logged
